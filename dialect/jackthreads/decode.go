package jackthreads

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/cartd/cartd/cart"
)

// setQty is a decoded set_qty request.
type setQty struct {
	Token    string
	Qty      int64
	SKU      string // or
	OptionID int64
	SaleID   int64 // 0 when omitted; accepted and not used (see the package doc)
}

// maxParam bounds a parameter's length: a SKU is at most 64 bytes, a token about 50.
const maxParam = 256

// decodeSetQty reads set_qty's parameters, checking each in the order the seed lists them
// after the token: sale_id, qty, then sku or option_id. The token is only checked for
// presence here; the engine decides whether it is good. Errors are Invalid naming the
// parameter (the dialect's 400), or Unauthorized for a missing token.
func decodeSetQty(form url.Values) (setQty, error) {
	var q setQty
	get := func(name string) (string, bool) {
		v, ok := form[name]
		if !ok || len(v) == 0 {
			return "", false
		}
		return strings.TrimSpace(v[0]), true
	}
	tok, ok := get("oauth_token")
	if !ok || tok == "" {
		return q, cart.Errorf(cart.Unauthorized, "missing_token", "oauth_token is required")
	}
	q.Token = tok
	if s, ok := get("sale_id"); ok && s != "" {
		n, ok := number(s)
		if !ok || n < 0 {
			return q, invalid("invalid_sale_id", "sale_id", "sale_id must be an integer")
		}
		q.SaleID = n
	}
	s, ok := get("qty")
	if !ok || s == "" {
		return q, invalid("missing_qty", "qty", "qty is required")
	}
	n, isNum := number(s)
	if !isNum {
		return q, invalid("invalid_qty", "qty", "qty must be an integer")
	}
	if n < 0 {
		return q, invalid("invalid_qty", "qty", "qty must be 0 or more")
	}
	q.Qty = n
	sku, hasSKU := get("sku")
	opt, hasOpt := get("option_id")
	hasSKU, hasOpt = hasSKU && sku != "", hasOpt && opt != ""
	switch {
	case hasSKU && hasOpt:
		return q, invalid("ambiguous_item", "sku", "give either sku or option_id, not both")
	case hasSKU:
		if len(sku) > maxParam {
			return q, invalid("invalid_sku", "sku", "sku is too long")
		}
		q.SKU = sku
	case hasOpt:
		id, ok := number(opt)
		if !ok || id <= 0 {
			return q, invalid("invalid_option_id", "option_id", "option_id must be a positive integer")
		}
		q.OptionID = id
	default:
		return q, invalid("missing_item", "sku", "sku or option_id is required")
	}
	return q, nil
}

// number reads a decimal integer that fits an int64, with an optional sign.
func number(s string) (int64, bool) {
	if len(s) > 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func invalid(reason, field, msg string) *cart.Error {
	return cart.InvalidField(reason, field, "%s", msg)
}

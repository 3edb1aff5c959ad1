package storefront

import (
	"bytes"
	"encoding/json"
	"github.com/cartd/cartd/internal/strictjson"
	"mime"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// The seed's validation messages, and Django REST framework's for what the seed leaves to it
// (a field that is missing, or not a whole number).
const (
	msgInvalidKey   = "Invalid cart item key"
	msgUnavailable  = "Product is no longer availabe" // sic: the seed's spelling
	msgVariantGone  = "Product variant no longer exists"
	msgRequired     = "This field is required."
	msgNotInteger   = "A valid integer is required."
	msgNotString    = "Not a valid string."
	msgAtLeastOne   = "Ensure this value is greater than or equal to 1."
	msgNonZero      = "Ensure this value is not zero: send a positive quantity to add, a negative one to remove."
	msgNotInCart    = "This item is not in your cart"
	maxItemKeyBytes = 4 + 19 + 1 + 64 + 5 // prod, a product number, _, a SKU, _dflt
)

// itemKeyPattern is the seed's item_key: prod{product_id}_{variant_sku}_dflt, case-sensitive.
// The product id is cartd's number for the product (ARCHITECTURE.md §Decisions), written without leading
// zeros; the SKU is what cartd accepts as one (no spaces or control characters) and may
// itself hold underscores.
var itemKeyPattern = regexp.MustCompile(`^prod([1-9][0-9]{0,18})_([^\x00-\x20\x7f]{1,64})_dflt$`)

// itemKey is a parsed item_key.
type itemKey struct {
	ProductNum int64
	SKU        string
}

// String is the key as the seed writes it.
func (k itemKey) String() string {
	return "prod" + strconv.FormatInt(k.ProductNum, 10) + "_" + k.SKU + "_dflt"
}

// parseItemKey reads an item_key; ok is false for anything that is not one.
func parseItemKey(s string) (itemKey, bool) {
	if len(s) > maxItemKeyBytes {
		return itemKey{}, false
	}
	m := itemKeyPattern.FindStringSubmatch(s)
	if m == nil {
		return itemKey{}, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return itemKey{}, false
	}
	return itemKey{ProductNum: n, SKU: m[2]}, true
}

// fieldErrors are the seed's 400 body: each field with its messages, {"item_key": ["..."]}.
type fieldErrors map[string][]string

func (f fieldErrors) add(field, msg string) { f[field] = append(f[field], msg) }

// request is a decoded request body: the fields present, as sent.
type request struct {
	itemKey  *string
	quantity *int64
	errs     fieldErrors // what could not be read, by field
	// refused is strictjson's refusal of the body (text that is not UTF-8, a member given
	// twice): the request is answered with it before anything else.
	refused error
}

// decodeBody reads a request body: a JSON object, or a form (application/x-www-form-urlencoded),
// as Django REST framework's default parsers accept; other members or fields are ignored. A
// body that is neither is malformed (ok false, with why); a field of the wrong type is
// recorded in errs. quantity may be a JSON integer (2, or 2.0), or a string of one ("2"), as
// REST framework's IntegerField takes it.
func decodeBody(contentType string, body []byte) (req request, why string, ok bool) {
	req.errs = fieldErrors{}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, "", true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	switch {
	case mt == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return req, "Form parse error - the body is not a valid form.", false
		}
		req.refused = strictjson.Form(form)
		if form.Has("item_key") {
			k := form.Get("item_key")
			req.itemKey = &k
		}
		if form.Has("quantity") {
			req.quantity = req.integer(strings.TrimSpace(form.Get("quantity")))
		}
		return req, "", true
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
	default:
		return req, "", false
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		return req, "JSON parse error - the body is not a JSON object.", false
	}
	if req.refused = strictjson.Check(body, "the request body"); req.refused != nil {
		return req, "", true
	}
	if raw, has := fields["item_key"]; has {
		var k string
		if json.Unmarshal(raw, &k) != nil {
			req.errs.add("item_key", msgNotString)
		} else {
			req.itemKey = &k
		}
	}
	if raw, has := fields["quantity"]; has {
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		_ = d.Decode(&v) // raw is valid JSON: the object decoded
		switch q := v.(type) {
		case json.Number:
			req.quantity = req.integer(q.String())
		case string:
			req.quantity = req.integer(strings.TrimSpace(q))
		default:
			req.errs.add("quantity", msgNotInteger)
		}
	}
	return req, "", true
}

// integerPattern is a whole number as REST framework's IntegerField reads it: digits, an
// optional sign, and an optional fraction of zeros ("2.0").
var integerPattern = regexp.MustCompile(`^[-+]?[0-9]+(\.0*)?$`)

// integer reads a whole number, recording an error for anything else (or a number out of
// range).
func (req *request) integer(s string) *int64 {
	if len(s) > 50 || !integerPattern.MatchString(s) {
		req.errs.add("quantity", msgNotInteger)
		return nil
	}
	s, _, _ = strings.Cut(s, ".")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		req.errs.add("quantity", msgNotInteger)
		return nil
	}
	return &n
}

// key validates the request's item_key, recording what is wrong with it.
func (req *request) key() (itemKey, bool) {
	if _, bad := req.errs["item_key"]; bad {
		return itemKey{}, false
	}
	if req.itemKey == nil {
		req.errs.add("item_key", msgRequired)
		return itemKey{}, false
	}
	k, ok := parseItemKey(*req.itemKey)
	if !ok {
		req.errs.add("item_key", msgInvalidKey)
	}
	return k, ok
}

// delta validates the request's quantity by the rule of the call, recording what is wrong.
func (req *request) delta(rule func(int64) string) (int64, bool) {
	if _, bad := req.errs["quantity"]; bad {
		return 0, false
	}
	if req.quantity == nil {
		req.errs.add("quantity", msgRequired)
		return 0, false
	}
	if msg := rule(*req.quantity); msg != "" {
		req.errs.add("quantity", msg)
		return 0, false
	}
	return *req.quantity, true
}

// atLeastOne is an add's rule: the quantity is 1 or more.
func atLeastOne(n int64) string {
	if n < 1 {
		return msgAtLeastOne
	}
	return ""
}

// nonZero is the PUT's rule (ARCHITECTURE.md §Decisions): a change up or down, never 0.
func nonZero(n int64) string {
	if n == 0 {
		return msgNonZero
	}
	return ""
}

package api

import (
	"net/http"
	"strings"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// preferredReturn reads the return preference of a request's Prefer header fields (RFC 7240):
// "minimal", "representation", or "" when there is none. Preferences are a comma-separated
// list across all Prefer fields; names and the return value are compared case-insensitively;
// parameters and unknown preferences are ignored; of a preference given twice only the first
// counts (RFC 7240 §2).
func preferredReturn(h http.Header) string {
	for _, field := range h.Values("Prefer") {
		for _, pref := range splitUnquoted(field, ',') {
			name, value, _ := strings.Cut(splitUnquoted(pref, ';')[0], "=")
			if !strings.EqualFold(strings.TrimSpace(name), "return") {
				continue
			}
			return strings.ToLower(unquote(strings.TrimSpace(value)))
		}
	}
	return ""
}

// unquote returns the content of an HTTP quoted-string (RFC 9110 §5.6.4), or s as it is when
// it is a token.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '\\' && i+1 < len(s)-1 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// splitUnquoted splits s at every sep outside a quoted string.
func splitUnquoted(s string, sep byte) []string {
	var parts []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// changeResponse renders the cart a mutating cart call answers with: the whole cart, or, when
// the request prefers return=minimal, only what the call changed (minimalCartJSON), marked
// Preference-Applied. Under an Idempotency-Key the first call's rendering is what retries get.
func (s *Server) changeResponse(r *http.Request, status int) renderer {
	if preferredReturn(r.Header) != "minimal" {
		return s.cartResponse(status)
	}
	return func(result any) engine.Response {
		v := result.(cart.View)
		resp := jsonResponse(status, renderMinimal(v))
		resp.Header["ETag"] = etag(v.Cart.Version)
		resp.Header["Preference-Applied"] = "return=minimal"
		if status == http.StatusCreated {
			resp.Header["Location"] = "/v1/carts/" + cartID(v.Cart.Num)
		}
		return resp
	}
}

// minimalCartJSON is the answer to a mutating call made with Prefer: return=minimal: the lines
// the call created or changed, in full and in the list (items or unavailable_items) a whole
// cart would show them in, the ids of the lines it removed, and the cart's version, totals and
// messages. A client merges it into the cart it holds by item id; a 1,000-line cart need not
// travel for a one-line change.
type minimalCartJSON struct {
	ID               string        `json:"id"`
	Object           string        `json:"object"`
	Version          int64         `json:"version"`
	Items            []itemJSON    `json:"items"`
	UnavailableItems []itemJSON    `json:"unavailable_items"`
	RemovedItemIDs   []string      `json:"removed_item_ids"`
	ItemCount        int64         `json:"item_count"`
	UniqueItemCount  int64         `json:"unique_item_count"`
	Expired          int64         `json:"expired"`
	Subtotal         int64         `json:"subtotal"`
	Discount         int64         `json:"discount"`
	Tax              int64         `json:"tax"`
	Shipping         int64         `json:"shipping"`
	Total            int64         `json:"total"`
	RetailTotal      int64         `json:"retail_total"`
	Saved            int64         `json:"saved"`
	PricesIncludeTax bool          `json:"prices_include_tax"`
	Coupons          []couponJSON  `json:"coupons"`
	Messages         []messageJSON `json:"messages"`
}

func renderMinimal(v cart.View) minimalCartJSON {
	out := minimalCartJSON{
		ID: cartID(v.Cart.Num), Object: "cart", Version: v.Cart.Version,
		Items: []itemJSON{}, UnavailableItems: []itemJSON{}, RemovedItemIDs: make([]string, 0, len(v.RemovedItems)),
		ItemCount: v.ItemCount, UniqueItemCount: v.UniqueItemCount, Expired: v.Expired,
		Subtotal: v.Subtotal, Discount: v.Discount, Tax: v.Tax, Shipping: v.Shipping, Total: v.Total,
		RetailTotal: v.RetailTotal, Saved: v.Saved, PricesIncludeTax: v.PricesIncludeTax, Coupons: renderCoupons(v),
		Messages: renderMessages(v.Messages),
	}
	changed := make(map[int64]bool, len(v.ChangedItems))
	for _, n := range v.ChangedItems {
		changed[n] = true
	}
	for _, l := range items(v) {
		if changed[l.Item.Num] {
			out.Items = append(out.Items, renderItem(l))
		}
	}
	for _, l := range v.Unavailable {
		if changed[l.Item.Num] {
			out.UnavailableItems = append(out.UnavailableItems, renderItem(l))
		}
	}
	for _, n := range v.RemovedItems {
		out.RemovedItemIDs = append(out.RemovedItemIDs, itemID(n))
	}
	return out
}

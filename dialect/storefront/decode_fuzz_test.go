package storefront

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeBody feeds the body decoder arbitrary bodies as JSON and as forms: it never
// panics; a body it takes yields an item_key and a quantity, or field errors naming them; an
// item_key that parses writes back to itself; and what the PUT's validation accepts is a
// well-formed key and a non-zero change.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []struct{ contentType, body string }{
		{"application/json", `{"item_key": "prod123_SKU789_dflt", "quantity": 2}`}, // the seed's example
		{"application/json", `{"item_key": "prod123_SKU789_dflt"}`},
		{"application/json", `{"item_key": "prod123_SKU789_dflt", "quantity": -3}`},
		{"application/json", `{"item_key": "prod1_A_B_dflt_dflt", "quantity": "4"}`},
		{"application/json", `{"item_key": 7, "quantity": 2.0}`},
		{"application/json", `{"item_key": null, "quantity": 1e3}`},
		{"application/json", `{"quantity": 99999999999999999999}`},
		{"application/json", `[1,2]`},
		{"application/json", `{"item_key": "x"} {"quantity": 1}`},
		{"application/json; charset=utf-8", `{"item_key": "prod9_\u0000_dflt", "quantity": "+5"}`},
		{"application/x-www-form-urlencoded", "item_key=prod123_SKU789_dflt&quantity=2"},
		{"application/x-www-form-urlencoded", "item_key=prod1_%20_dflt&quantity=2.000&quantity=3"},
		{"application/x-www-form-urlencoded", "%zz"},
		{"text/plain", "item_key=x"},
		{"", ""},
	} {
		f.Add(seed.contentType, seed.body)
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		req, why, ok := decodeBody(contentType, []byte(body))
		if !ok {
			if req.itemKey != nil || req.quantity != nil {
				t.Fatalf("refused body %q yielded fields", body)
			}
			return
		}
		if why != "" {
			t.Fatalf("accepted body %q with a reason %q", body, why)
		}
		if req.refused != nil {
			return // answered 422 with the refusal, before any field is looked at
		}
		if req.itemKey != nil && !utf8.ValidString(*req.itemKey) {
			t.Fatalf("%q: accepted an item_key that is not UTF-8: %q", body, *req.itemKey)
		}
		for field, msgs := range req.errs {
			if field != "item_key" && field != "quantity" || len(msgs) == 0 {
				t.Fatalf("%q: errors %v", body, req.errs)
			}
		}
		if req.itemKey != nil {
			if k, ok := parseItemKey(*req.itemKey); ok && k.String() != *req.itemKey {
				t.Fatalf("item_key %q parsed to %+v, which writes %q", *req.itemKey, k, k.String())
			}
		}
		k, keyOK := req.key()
		n, qtyOK := req.delta(nonZero)
		if keyOK && (k.ProductNum <= 0 || k.SKU == "" || strings.ContainsAny(k.SKU, " \t\r\n")) {
			t.Fatalf("%q: accepted key %+v", body, k)
		}
		if qtyOK && n == 0 {
			t.Fatalf("%q: accepted a zero change", body)
		}
		if (!keyOK || !qtyOK) && len(req.errs) == 0 {
			t.Fatalf("%q: refused without an error", body)
		}
		if _, err := json.Marshal(req.errs); err != nil {
			t.Fatalf("%q: errors do not encode: %v", body, err)
		}
	})
}

// FuzzParseItemKey checks that parseItemKey accepts exactly the keys it can write back.
func FuzzParseItemKey(f *testing.F) {
	for _, seed := range []string{"prod123_SKU789_dflt", "prod1_a_dflt", "prod0_a_dflt", "prod12_a_b_c_dflt", "prod12__dflt",
		"prod9223372036854775808_X_dflt", "PROD1_A_DFLT", "prod1_\x7f_dflt", "prod1_é_dflt"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, ok := parseItemKey(s)
		if !ok {
			return
		}
		if k.String() != s || k.ProductNum <= 0 || k.SKU == "" || len(k.SKU) > 64 {
			t.Fatalf("%q parsed to %+v", s, k)
		}
		again, ok := parseItemKey(k.String())
		if !ok || again != k {
			t.Fatalf("%q: written %q parses to %+v, %v", s, k.String(), again, ok)
		}
	})
}

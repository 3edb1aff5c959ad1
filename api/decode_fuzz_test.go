package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/strictjson"
)

// The request decoders are the first code any client byte reaches. These fuzz targets hold
// them to three rules whatever the input: they never panic; they fail only with a *cart.Error
// of code Malformed (400) or Invalid (422, naming a field); and what they accept is within
// the rules the engine relies on.

// seedBodies are inputs every decoder sees: realistic bodies of every endpoint, and nasty ones.
var seedBodies = []string{
	// The Stateset seed's body, verbatim.
	"{\n    \"quantity\": 3,\n    \"notes\": \"Updated quantity\"\n}",
	`{"quantity": 0}`,
	`{"quantity_delta": -2}`,
	`{"quantity": 2, "quantity_delta": 1}`,
	`{"quantity": 5, "validate_inventory": false}`,
	`{"quantity": 5, "validate_inventory": true, "stock_policy": "clamp"}`,
	`{"quantity": 5, "stock_policy": "ignore", "metadata": {"gift": true}}`,
	`{"notes": "only notes", "metadata": null}`,
	`{"sku": "WH-BL", "quantity": 2, "notes": "gift", "metadata": {"k": "v"}}`,
	`{"variant_id": "var_blue_large"}`,
	`{"sku": "A", "variant_id": "var_A"}`,
	`{"sku": "", "quantity": 1}`,
	`{"currency": "EUR", "customer_id": "cust_42", "metadata": {"channel": "app"}}`,
	`{"customer_id": ""}`,
	`{"name": "Wireless Headphones", "variants": [{"id": "var_1", "sku": "WH-1", "price": {"USD": 9999}, "retail_price": {"USD": 12999}, "tiers": [{"min_quantity": 5, "price": {"USD": 8999}}], "tax_rate": 500, "options": [{"name": "color", "value": "Blue"}], "active": false}]}`,
	`{"id": "prod_other", "name": "x", "variants": []}`,
	`{"on_hand": 10}`,
	`{"on_hand_delta": -3}`,
	// Measured quantities (docs/measured-quantities.md): decimals read from their text.
	`{"quantity": 1.25}`,
	`{"quantity": 0.100000}`,
	`{"quantity_delta": -0.0005}`,
	`{"quantity": 1e-1}`,
	`{"quantity": 9223372036854775.807}`,
	`{"quantity": 0.00000000000000000001}`,
	`{"on_hand": 10.5, "on_hand_delta": -0.25}`,
	`{"sku": "COFFEE", "quantity": 0.250}`,
	`{"changes": [{"sku": "COFFEE", "quantity": 1.5}, {"item_id": "ci_7", "quantity_delta": -0.05}]}`,
	`{"name": "Coffee", "quantity_rule": {"min": 0.25, "increment": 0.05}, "variants": [{"id": "var_c", "sku": "C", "price": {"USD": 1299}, "quantity_scale": 3, "unit": "kg", "tiers": [{"min_quantity": 5.5, "price": {"USD": 1199}}], "quantity_rule": {"max": 10.0001}}]}`,
	`{"on_hand": 1, "on_hand_delta": 1}`,
	`{"default_currency": "JPY", "prices_include_tax": true, "max_quantity_per_item": 50, "max_lines_per_cart": 10, "shipping": {"USD": {"flat": 500, "free_over": 10000}}}`,
	`{"changes": [{"item_id": "ci_7", "quantity": 2}, {"sku": "A", "quantity_delta": -1, "stock_policy": "clamp"}, {"variant_id": "var_b", "notes": "n", "metadata": null}]}`,
	`{"changes": [{"item_id": "ci_7", "sku": "A", "quantity": 1}, {"quantity": 1}, {"sku": ""}]}`,
	`{"changes": [{"item_id": "ci_0", "quantity": 1}, {"item_id": "7", "quantity": 1}, {"item_id": "ci_99999999999999999999"}]}`,
	`{"changes": []}`,
	`{"changes": null}`,
	`{"changes": [null, 1, "x", [], {}]}`,
	`{"changes": {"sku": "A"}}`,
	`{"changes": [{"sku": "A", "quantity": 1, "quantity_delta": 1, "validate_inventory": true, "stock_policy": "ignore"}]}`,
	`{"changes": [{"sku": "A", "quantity": 1}], "changes": []}`,
	// Numbers at and beyond the edges.
	`{"quantity": 9223372036854775807}`,
	`{"quantity": -9223372036854775808}`,
	`{"quantity": 99999999999999999999}`,
	`{"quantity_delta": -99999999999999999999}`,
	`{"on_hand": 1e400}`,
	`{"quantity": 2.5}`,
	`{"quantity": 1e2}`,
	`{"quantity": -0}`,
	`{"quantity": 0.0}`,
	`{"quantity": "3"}`,
	`{"quantity": 0x10}`,
	`{"quantity": NaN}`,
	// Nulls, wrong shapes and nested junk.
	`null`,
	`{"quantity": null, "quantity_delta": null, "notes": null}`,
	`{"sku": null, "variant_id": "v"}`,
	`[]`,
	`[{"quantity": 1}]`,
	`"quantity"`,
	`42`,
	`true`,
	`{"metadata": {"a": [1, {"b": [[[[[[]]]]]]}], "c": null}}`,
	`{"metadata": [1, 2, 3]}`,
	`{"metadata": "string"}`,
	`{"variants": [null, 1, "x", {"price": {"USD": null}}]}`,
	`{"variants": [{"tiers": [{"min_quantity": 1.5}]}]}`,
	`{"shipping": {"USD": null, "": {"flat": -1}}}`,
	`{"colour": "red"}`,
	`{"Quantity": 3, "QUANTITY": 4}`,
	// Duplicate keys, which encoding/json would resolve silently (the last wins): refused,
	// naming the member.
	`{"quantity": 1, "quantity": -1}`,
	`{"quantity_delta":1,"quantity_delta":-2}`,
	`{"changes": [{"item_id": "ci_7", "quantity": 3, "quantity": 0}]}`,
	`{"metadata": {"a": {"b": 1, "b": 2}}}`,
	`{"quantity_delta": 5, "quantity_delta": 0}`,
	`{"sku": "A", "sku": ""}`,
	// Broken syntax and encodings.
	``,
	`   `,
	`{`,
	`{"quantity": `,
	`{"quantity": 2,}`,
	`{"quantity": 2} {"quantity": 3}`,
	`{"quantity": 2} x`,
	"{\"notes\": \"\xff\xfe invalid utf-8\"}",
	"{\"sku\": \"\xc3\x28\"}",
	"\xef\xbb\xbf{\"quantity\": 1}",
	"{\"notes\": \"nul \\u0000 byte\"}",
	`{"notes": "\ud800"}`,
	// Text that is not UTF-8, or lone surrogates, anywhere: refused, naming where.
	"{\"sku\":\"X\",\"quantity\":1,\"metadata\":{\"k\":\"\xc3\x28\"}}",
	`{"sku":"X","quantity":1,"metadata":{"k":"\udfff"}}`,
	`{"notes":"\ud83d\ud83d"}`,
	`{"metadata":{"\ud800":1}}`,
	"{\"name\":\"\xe2\x82\",\"variants\":[]}",
	"{\"changes\":[{\"sku\":\"A\xed\xa0\x80\",\"quantity\":1}]}",
	// Prices beyond 10^12, which the engine refuses.
	`{"name": "Big", "variants": [{"id": "v", "sku": "S", "price": {"USD": 1000000000000000}}]}`,
	`{"name": "Big", "variants": [{"id": "v", "sku": "S", "price": {"USD": 9000000000000000000}}]}`,
}

// checkDecodeError fails unless err is a *cart.Error a client can act on: Malformed, or
// Invalid naming at least one field.
func checkDecodeError(t *testing.T, body []byte, err error) {
	t.Helper()
	var e *cart.Error
	if !errors.As(err, &e) {
		t.Fatalf("%q: error %T %v is not a *cart.Error", body, err, err)
	}
	switch e.Code {
	case cart.Malformed:
	case cart.Invalid:
		if len(e.Fields) == 0 {
			t.Fatalf("%q: Invalid error names no field: %v", body, e)
		}
	default:
		t.Fatalf("%q: error code %s, want malformed or invalid: %v", body, e.Code, e)
	}
	if e.Reason == "" || e.Message == "" {
		t.Fatalf("%q: error without reason or message: %+v", body, e)
	}
}

// checkObject fails unless an accepted body is one well-formed JSON object.
func checkObject(t *testing.T, body []byte) {
	t.Helper()
	trimmed := bytes.TrimSpace(body)
	if !json.Valid(trimmed) || len(trimmed) == 0 || trimmed[0] != '{' {
		t.Fatalf("%q: accepted a body that is not one JSON object", body)
	}
	if !utf8.Valid(body) || strictjson.Check(body, "the body") != nil {
		t.Fatalf("%q: accepted text that is not UTF-8, a lone surrogate or a member given twice", body)
	}
}

// checkMetadata fails unless metadata decoded from a request is absent or valid JSON.
func checkMetadata(t *testing.T, body []byte, m json.RawMessage) {
	t.Helper()
	if m != nil && !json.Valid(m) {
		t.Fatalf("%q: metadata %q is not valid JSON", body, m)
	}
}

func checkPolicy(t *testing.T, body []byte, p cart.Policy) {
	t.Helper()
	switch p {
	case cart.Reject, cart.Clamp, cart.Ignore:
	default:
		t.Fatalf("%q: policy %q", body, p)
	}
}

func FuzzDecodeItemChange(f *testing.F) {
	for _, b := range seedBodies {
		f.Add([]byte(b), true)
		f.Add([]byte(b), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, allowDelta bool) {
		u, err := decodeItemChange(body, 7, allowDelta)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkObject(t, body)
		checkMetadata(t, body, u.Metadata)
		checkPolicy(t, body, u.Policy)
		if u.Add || u.Item != (engine.ItemRef{ItemNum: 7}) {
			t.Fatalf("%q: update %+v does not name item 7 as a change", body, u)
		}
		if c := u.Change; c != nil {
			checkExact(t, body, c)
			switch {
			case c.Set && c.N < 0:
				t.Fatalf("%q: decoded a negative set quantity %d", body, c.N)
			case !c.Set && c.N == 0:
				t.Fatalf("%q: decoded a zero delta", body)
			case !c.Set && !allowDelta:
				t.Fatalf("%q: PUT decoded a delta %d", body, c.N)
			}
		}
	})
}

func FuzzDecodeItemAdd(f *testing.F) {
	for _, b := range seedBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := decodeItemAdd(body)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkObject(t, body)
		checkMetadata(t, body, u.Metadata)
		checkPolicy(t, body, u.Policy)
		if !u.Add || u.Change == nil || u.Change.Set || u.Change.N < 1 {
			t.Fatalf("%q: an add decoded to %+v, want a delta of at least 1", body, u.Change)
		}
		if u.Item.ItemNum != 0 || (u.Item.SKU == "") == (u.Item.VariantID == "") {
			t.Fatalf("%q: an add names %+v, want exactly one of sku and variant_id", body, u.Item)
		}
	})
}

func FuzzDecodeCartCreate(f *testing.F) {
	for _, b := range seedBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decodeCartCreate(body)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		if len(bytes.TrimSpace(body)) == 0 {
			if in.CustomerID != "" || in.Currency != "" || in.Metadata != nil {
				t.Fatalf("%q: an empty body decoded to %+v, want the defaults", body, in)
			}
			return
		}
		checkObject(t, body)
		checkMetadata(t, body, in.Metadata)
	})
}

func FuzzDecodeProduct(f *testing.F) {
	for _, b := range seedBodies {
		f.Add([]byte(b), "prod_1")
	}
	f.Add([]byte(`{"id": "prod_other", "name": "x", "variants": []}`), "prod_other")
	f.Add([]byte(`{"name": "x"}`), "")
	f.Add([]byte(`{"id": "\u00e9", "name": "x"}`), "é")
	f.Fuzz(func(t *testing.T, body []byte, id string) {
		p, err := decodeProduct(body, id)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkObject(t, body)
		if p.ID != id {
			t.Fatalf("%q: product id %q, the path said %q", body, p.ID, id)
		}
		var req struct {
			Variants []json.RawMessage `json:"variants"`
		}
		if json.Unmarshal(body, &req) == nil && len(req.Variants) != len(p.Variants) {
			t.Fatalf("%q: %d variants sent, %d decoded", body, len(req.Variants), len(p.Variants))
		}
		for _, v := range p.Variants {
			if v.Num != 0 || v.Deleted {
				t.Fatalf("%q: a decoded variant carries stored state: %+v", body, v)
			}
		}
	})
}

func FuzzDecodeInventory(f *testing.F) {
	for _, b := range seedBodies {
		f.Add([]byte(b), false)
		f.Add([]byte(b), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, relative bool) {
		ch, err := decodeInventory(body, relative)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkObject(t, body)
		if relative && (ch.OnHandDelta == nil || ch.OnHand != nil) {
			t.Fatalf("%q: PATCH decoded %+v, want on_hand_delta only", body, ch)
		}
		if !relative && (ch.OnHand == nil || ch.OnHandDelta != nil) {
			t.Fatalf("%q: PUT decoded %+v, want on_hand only", body, ch)
		}
	})
}

func FuzzDecodeSettings(f *testing.F) {
	for _, b := range seedBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// Settings' values are the engine's to validate; the decoder only reads them.
		if _, err := decodeSettings(body); err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkObject(t, body)
	})
}

func FuzzDecodeBatch(f *testing.F) {
	for _, b := range seedBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		updates, err := decodeBatch(body)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkObject(t, body)
		var req struct {
			Changes []json.RawMessage `json:"changes"`
		}
		if json.Unmarshal(body, &req) == nil && len(req.Changes) != len(updates) {
			t.Fatalf("%q: %d changes sent, %d decoded", body, len(req.Changes), len(updates))
		}
		if len(updates) == 0 {
			t.Fatalf("%q: accepted a batch of no changes", body)
		}
		for i, u := range updates {
			checkMetadata(t, body, u.Metadata)
			checkPolicy(t, body, u.Policy)
			named := 0
			for _, set := range []bool{u.Item.ItemNum != 0, u.Item.SKU != "", u.Item.VariantID != ""} {
				if set {
					named++
				}
			}
			if named != 1 || u.Item.ItemNum < 0 || u.Add {
				t.Fatalf("%q: change %d names %+v (add %v), want exactly one line reference and no add", body, i, u.Item, u.Add)
			}
			if c := u.Change; c != nil {
				switch {
				case c.Set && c.N < 0:
					t.Fatalf("%q: change %d decoded a negative set quantity %d", body, i, c.N)
				case !c.Set && c.N == 0:
					t.Fatalf("%q: change %d decoded a zero delta", body, i)
				}
			}
		}
	})
}

// checkExact holds a decoded change to the number its body wrote: N * 10^-Digits is exactly
// the value of the quantity's (or quantity_delta's) text, compared as big rationals.
func checkExact(t *testing.T, body []byte, c *cart.Change) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return // duplicate members and the like: the decoder decided
	}
	// encoding/json matches member names without regard to case: find the one member that
	// names the field (several spellings at once are the decoder's to settle; skipped).
	name := "quantity_delta"
	if c.Set {
		name = "quantity"
	}
	var text json.RawMessage
	found := 0
	for k, v := range fields {
		if strings.EqualFold(k, name) {
			text, found = v, found+1
		}
	}
	if found != 1 {
		return
	}
	want, ok := new(big.Rat).SetString(string(text))
	if !ok {
		t.Fatalf("%q: decoded %+v from a quantity that is no number", body, c)
	}
	got := new(big.Rat).SetFrac(big.NewInt(c.N), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.Digits)), nil))
	if got.Cmp(want) != 0 || c.Form != cart.FormDecimal {
		t.Fatalf("%q: decoded %+v, which is %s, not %s", body, c, got, want)
	}
}

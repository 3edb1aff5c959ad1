package ebay

import (
	"encoding/json"
	"strconv"
	"testing"
)

// FuzzDecodeUpdateQuantity feeds the body decoder arbitrary bytes: it never panics; what it
// accepts names an item as cartd writes its id and a quantity of at least 1; what it refuses
// it refuses with eBay's request errors (2004, or 10007, 10009 and 10012 naming the field), at
// most one per field, each rendering as JSON.
func FuzzDecodeUpdateQuantity(f *testing.F) {
	for _, seed := range []string{
		`{"cartItemId": "ci_79532", "quantity": 6}`, // the seed's request
		`{"cartItemId": "ci_1", "quantity": "2"}`,
		`{"cartItemId": "ci_1", "quantity": 0}`,
		`{"cartItemId": "ci_1", "quantity": 1.5}`,
		`{"cartItemId": "ci_01", "quantity": 1e3}`,
		`{"cartItemId": 79532, "quantity": null}`,
		`{"cartItemId": "ci_9223372036854775808", "quantity": 99999999999999999999}`,
		`{"CARTITEMID": "ci_1", "Quantity": 1}`,
		`{}`, `[]`, `null`, ``, `{"cartItemId": "ci_1", "quantity": 1} {}`, `{"cartItemId": "\u0000"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, errs := decodeUpdateQuantity(body)
		if errs == nil {
			if n, ok := parseItemID(req.CartItemID); !ok || n != req.ItemNum || req.CartItemID != "ci_"+strconv.FormatInt(n, 10) {
				t.Fatalf("%q: accepted cartItemId %q as item %d", body, req.CartItemID, req.ItemNum)
			}
			if req.Quantity < 1 {
				t.Fatalf("%q: accepted quantity %d", body, req.Quantity)
			}
			return
		}
		seen := map[int64]int{}
		for _, e := range errs {
			seen[e.ErrorID]++
			switch e.ErrorID {
			case 2004:
				if len(errs) != 1 {
					t.Fatalf("%q: 2004 with other errors: %+v", body, errs)
				}
			case 10007, 10009, 10012:
				if e.Category != "REQUEST" || e.Domain != "API_BROWSE" || len(e.Parameters) != 1 {
					t.Fatalf("%q: %+v", body, e)
				}
			default:
				t.Fatalf("%q: error %d from the decoder", body, e.ErrorID)
			}
			if _, err := json.Marshal(e); err != nil {
				t.Fatalf("%q: %v", body, err)
			}
		}
		// One error per field: cartItemId (10007 or 10012), quantity (10007 or 10009).
		if len(errs) > 2 || seen[10012] > 1 || seen[10009] > 1 {
			t.Fatalf("%q: %+v", body, errs)
		}
	})
}

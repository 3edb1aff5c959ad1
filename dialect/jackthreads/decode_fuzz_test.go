package jackthreads

import (
	"errors"
	"net/url"
	"testing"

	"github.com/cartd/cartd/cart"
)

// FuzzDecodeSetQty feeds the parameter decoder arbitrary form bodies: it never panics; what it
// refuses is Unauthorized for a missing token or Invalid naming one parameter; and what it
// accepts holds a token, a quantity of 0 or more, and exactly one of a SKU and a positive
// option id.
func FuzzDecodeSetQty(f *testing.F) {
	for _, seed := range []string{
		"qty=2&option_id=87744&oauth_token=fb18fc25e7e41608dadddcf567e9fe22q", // the seed's example request
		"sale_id=4815&qty=1&sku=JT00191757&oauth_token=ct_x",
		"qty=0&sku=JT00191757&oauth_token=ct_x",
		"qty=-1&sku=A&oauth_token=ct_x",
		"qty=1.5&option_id=+7&oauth_token=ct_x",
		"qty=99999999999999999999&sku=A&oauth_token=ct_x",
		"qty=1&sku=A&option_id=2&oauth_token=ct_x",
		"qty=1&option_id=0&oauth_token=ct_x",
		"qty=1&sale_id=x&sku=A&oauth_token=ct_x",
		"qty=1&sku=A",
		"qty=1&sku=%20&oauth_token=%20",
		"qty=2&qty=3&sku=&option_id=5&oauth_token=a&oauth_token=b",
		"%zz",
	} {
		f.Add(seed)
	}
	params := map[string]bool{"qty": true, "sku": true, "option_id": true, "sale_id": true}
	f.Fuzz(func(t *testing.T, raw string) {
		form, _ := url.ParseQuery(raw) // what a server reads of a bad body: the pairs that parse
		q, err := decodeSetQty(form)
		if err != nil {
			var e *cart.Error
			switch {
			case !errors.As(err, &e):
				t.Fatalf("%q: error %v is not a *cart.Error", raw, err)
			case e.Code == cart.Unauthorized:
				if e.Reason != "missing_token" || q.Token != "" {
					t.Fatalf("%q: %v with token %q", raw, err, q.Token)
				}
			case e.Code != cart.Invalid || len(e.Fields) != 1 || !params[e.Fields[0].Field] || e.Message == "":
				t.Fatalf("%q: error %v does not name one parameter", raw, err)
			}
			return
		}
		if q.Token == "" || q.Qty < 0 || q.SaleID < 0 {
			t.Fatalf("%q: accepted %+v", raw, q)
		}
		if (q.SKU == "") == (q.OptionID == 0) || q.OptionID < 0 || len(q.SKU) > maxParam {
			t.Fatalf("%q: accepted item sku %q, option %d", raw, q.SKU, q.OptionID)
		}
	})
}

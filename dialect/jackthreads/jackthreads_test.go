package jackthreads_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/testserver"
	"github.com/cartd/cartd/money"
)

// seedRequest is the seed's example request body (curl -d), its token aside; see
// TestSeedExample for its option_id.
const seedRequest = "qty=2&option_id=87744&oauth_token=fb18fc25e7e41608dadddcf567e9fe22q"

// seedExample is the seed's example response, verbatim (its image URL garbled by the page it
// was scraped from).
const seedExample = `{
   "success":true,
   "cart":{
      "qty":1,
      "expired":0,
      "subtotal":"80.99",
      "tax":"0.00",
      "shipping":"0.00",
      "discount":"0.00",
      "coupons":[
         {
            "id":71,
            "name":"Annie",
            "type":"percent",
            "method":"manual",
            "amount":"60.74",
            "desc":"mother ****"
         }
      ],
      "total":"0.00",
      "retail":"120.00",
      "saved":"39.01",
      "items":[
         {
            "id":191757,
            "sku":"JT00191757",
            "cart_id":2383595,
            "product_id":40826,
            "name":"Skytop",
            "expires":"2012-01-17 19:10:15",
            "price":"80.99",
            "image":"http:\/\/[www.jackthreads.com\/data\/products\/SkytopShoeBlackWhiteA_1.jpg](http://www.jackthreads.com//data//products//SkytopShoeBlackWhiteA_1.jpg)",
            "brand":{
               "id":21,
               "name":"Supra"
            },
            "color":{
               "id":2568,
               "name":"Black\/White"
            },
            "size":{
               "id":3,
               "name":"10.5"
            },
            "sale":{
               "id":4815,
               "name":"Hi-Top Shop",
               "start_date":"2012-01-13 12:00:00",
               "end_date":"2012-01-18 12:00:00"
            },
            "qty":1,
            "is_expired":false,
            "is_returnable":true,
            "est_delivery":"1\/27\/12",
            "options":[
               {
                  "id":191750,
                  "sku":"JT00191750",
                  "sold_out":true,
                  "color":{
                     "id":2568,
                     "name":"Black\/White"
                  },
                  "size":{
                     "id":108,
                     "code":"7 ",
                     "name":"7 "
                  }
               },
               {
                  "id":191763,
                  "sku":"JT00191763",
                  "sold_out":true,
                  "color":{
                     "id":2568,
                     "name":"Black\/White"
                  },
                  "size":{
                     "id":12,
                     "code":"14",
                     "name":"14"
                  }
               }
            ]
         }
      ]
   }
}`

// seedImage is what the example's garbled image URL says.
const seedImage = "http://www.jackthreads.com/data/products/SkytopShoeBlackWhiteA_1.jpg"

// seedNow is the instant the example was answered at, as far as it shows: its item's
// reservation lapses at 19:10:15, 15 minutes later.
var seedNow = time.Date(2012, 1, 17, 18, 55, 15, 0, time.UTC)

// mustSeedCatalog arranges the catalog of the seed's example: sale 4815, product 40826 with
// the variants 191750, 191757 and 191763 (one unit of the second, the others sold out), and
// the percent coupon 71. It returns the product.
func (s *testServer) mustSeedCatalog(tb testing.TB) cart.Product {
	tb.Helper()
	ctx := context.Background()
	s.nextNum(tb, "sales", 4815)
	if _, err := s.Engine.PutSale(ctx, s.Principal, cart.Sale{ID: "sale_hitop", Name: "Hi-Top Shop",
		StartsAt: time.Date(2012, 1, 13, 12, 0, 0, 0, time.UTC), EndsAt: time.Date(2012, 1, 18, 12, 0, 0, 0, time.UTC)}, engine.Options{}); err != nil {
		tb.Fatal(err)
	}
	variant := func(num int, size string) cart.Variant {
		return cart.Variant{ID: fmt.Sprintf("var_%d", num), SKU: fmt.Sprintf("JT00%d", num),
			Options: []cart.Option{{Name: "color", Value: "Black/White"}, {Name: "size", Value: size}},
			Prices:  map[string]int64{"USD": 8099}, RetailPrices: map[string]int64{"USD": 12000},
			Active: true, Returnable: true, SaleID: "sale_hitop"}
	}
	p := cart.Product{ID: "prod_skytop", Name: "Skytop", Brand: "Supra", ImageURL: seedImage}
	s.nextNum(tb, "products", 40826)
	// Variants keep their numbers across puts: each is added, first (a put numbers its new
	// variants as it goes), after moving the counter; a last put restores their order.
	for _, v := range []struct {
		num  int
		size string
	}{{191750, "7 "}, {191757, "10.5"}, {191763, "14"}} {
		s.nextNum(tb, "variants", int64(v.num))
		p.Variants = append([]cart.Variant{variant(v.num, v.size)}, p.Variants...)
		p = s.MustProductStock(tb, p, map[string]int64{"JT00191757": 1})
	}
	slices.Reverse(p.Variants)
	p = s.MustProductStock(tb, p, map[string]int64{"JT00191757": 1})
	s.nextNum(tb, "promotions", 71)
	if _, err := s.Engine.PutPromotion(ctx, s.Principal, cart.Promotion{Code: "ANNIE", Name: "Annie", Description: "mother ****",
		Type: cart.Percent, Method: cart.Manual, Rate: 7500, Active: true}, engine.Options{}); err != nil {
		tb.Fatal(err)
	}
	return p
}

// decimal is a money amount as the seed writes it.
var decimal = regexp.MustCompile(`^-?[0-9]+\.[0-9]{2}$`)

// compareJSON compares got with want field by field: the same names, JSON types and nesting,
// and the same values, save where a check at the field's path says otherwise.
func compareJSON(t *testing.T, path string, want, got any, checks map[string]func(want, got any) string) {
	t.Helper()
	if check, ok := checks[path]; ok {
		if msg := check(want, got); msg != "" {
			t.Errorf("%s: %s (seed %v, got %v)", path, msg, want, got)
		}
		return
	}
	if reflect.TypeOf(want) != reflect.TypeOf(got) {
		t.Errorf("%s: JSON type %T, seed %T (seed %v, got %v)", path, got, want, want, got)
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		names := func(m map[string]any) []string {
			var out []string
			for k := range m {
				out = append(out, k)
			}
			sort.Strings(out)
			return out
		}
		if diff := cmp.Diff(names(w), names(g)); diff != "" {
			t.Errorf("%s: field names (-seed +got):\n%s", path, diff)
		}
		for k, wv := range w {
			if gv, ok := g[k]; ok {
				compareJSON(t, path+"."+k, wv, gv, checks)
			}
		}
	case []any:
		g := got.([]any)
		if len(w) != len(g) {
			t.Errorf("%s: %d elements, seed %d", path, len(g), len(w))
			return
		}
		for i := range w {
			compareJSON(t, fmt.Sprintf("%s[%d]", path, i), w[i], g[i], checks)
		}
	default:
		if want != got {
			t.Errorf("%s = %v, seed %v", path, got, want)
		}
	}
}

// positiveInteger checks an id cartd derives from a name: a JSON integer above 0.
func positiveInteger(_, got any) string {
	n, ok := got.(json.Number)
	if !ok {
		return "not a JSON number"
	}
	if i, err := n.Int64(); err != nil || i <= 0 {
		return "not a positive integer"
	}
	return ""
}

// decimalString checks a money amount that the example's own figures contradict: a decimal
// string with two digits.
func decimalString(_, got any) string {
	if s, ok := got.(string); !ok || !decimal.MatchString(s) {
		return "not a decimal string with two digits"
	}
	return ""
}

func TestSeedExample(t *testing.T) {
	s := mustServer(t, seedNow)
	s.mustSeedCatalog(t)
	ctx := context.Background()
	token := s.MustToken(t, "jt_user")

	// The user's cart, holding the item with the coupon applied.
	s.nextNum(t, "carts", 2383595)
	v, err := s.Engine.CreateCart(ctx, s.Principal, engine.NewCart{CustomerID: "jt_user", Currency: "USD"}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := cart.AddDelta(1)
	if _, err := s.Engine.Update(ctx, s.Principal, v.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: "JT00191757"}, Change: &ch, Add: true}}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Engine.ApplyCoupon(ctx, s.Principal, v.Cart.Num, "ANNIE", engine.Options{}); err != nil {
		t.Fatal(err)
	}

	// The example request, with the user's token, and the option id of the item its response
	// shows: the example asks for option 87744 and answers with option 191757 (and qty 1 for
	// its qty=2, which the one unit in stock explains: the quantity is capped at it).
	form := strings.Replace(seedRequest, "fb18fc25e7e41608dadddcf567e9fe22q", token, 1)
	form = strings.Replace(form, "option_id=87744", "option_id=191757", 1)
	r := s.post(t, "/services/v1/cart/set_qty", form).MustStatus(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	got := r.JSON(t)

	compareJSON(t, "", testserver.DecodeJSON(t, []byte(seedExample)), got, map[string]func(want, got any) string{
		// The example's discount, total and saved contradict its own 60.74 coupon (checked
		// against each other below).
		".cart.discount": decimalString,
		".cart.total":    decimalString,
		".cart.saved":    decimalString,
		// Its image URL is garbled.
		".cart.items[0].image": func(_, got any) string {
			if got != seedImage {
				return "not the example's image"
			}
			return ""
		},
		// cartd keeps no delivery estimates: null, "not subject to an extended delivery".
		".cart.items[0].est_delivery": func(_, got any) string {
			if got != nil {
				return "not null"
			}
			return ""
		},
		// Brands, colors and sizes have no numbers in cartd: ids derived from the names.
		".cart.items[0].brand.id":            positiveInteger,
		".cart.items[0].color.id":            positiveInteger,
		".cart.items[0].size.id":             positiveInteger,
		".cart.items[0].options[0].color.id": positiveInteger,
		".cart.items[0].options[0].size.id":  positiveInteger,
		".cart.items[0].options[1].color.id": positiveInteger,
		".cart.items[0].options[1].size.id":  positiveInteger,
	})

	c := got["cart"].(map[string]any)
	if c["discount"] != "60.74" || c["total"] != "20.25" || c["saved"] != "99.75" {
		t.Errorf("discount %v, total %v, saved %v; want the coupon's 60.74 off 80.99 (total 20.25) and 120.00 - 20.25 saved",
			c["discount"], c["total"], c["saved"])
	}
	item := c["items"].([]any)[0].(map[string]any)
	opts := item["options"].([]any)
	if item["color"].(map[string]any)["id"] != opts[0].(map[string]any)["color"].(map[string]any)["id"] {
		t.Error("one color has two ids")
	}
	if opts[0].(map[string]any)["size"].(map[string]any)["id"] == opts[1].(map[string]any)["size"].(map[string]any)["id"] {
		t.Error("two sizes have one id")
	}
}

// TestQuantityRules holds the dialect to its row of docs/dialects.md: set (not add), an upsert by SKU
// or option, the stock policy clamp, in the customer's cart, opened if they have none.
func TestQuantityRules(t *testing.T) {
	s := mustServer(t, time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC))
	p := s.MustProductStock(t, simpleProduct("prod_tee", 2499, "TEE-S", "TEE-M"), map[string]int64{"TEE-S": 5, "TEE-M": 50})
	token := s.MustToken(t, "alice")

	body := s.setQty(t, "qty", "2", "sku", "TEE-S", "oauth_token", token).MustStatus(t, http.StatusOK).JSON(t)
	cartID := items(t, body)["TEE-S"]["cart_id"].(json.Number)
	for _, step := range []struct {
		params []string
		want   map[string]string
	}{
		{[]string{"qty", "3", "sku", "TEE-S"}, map[string]string{"TEE-S": "3"}},                                           // sets, not adds
		{[]string{"qty", "1", "sku", "TEE-S"}, map[string]string{"TEE-S": "1"}},                                           // down too
		{[]string{"qty", "9", "sku", "TEE-S"}, map[string]string{"TEE-S": "5"}},                                           // capped at the stock
		{[]string{"qty", "4", "option_id", fmt.Sprint(p.Variants[1].Num)}, map[string]string{"TEE-S": "5", "TEE-M": "4"}}, // added by option
		{[]string{"qty", "0", "sku", "TEE-S", "sale_id", "12"}, map[string]string{"TEE-M": "4"}},                          // 0 removes; sale_id accepted
		{[]string{"qty", "0", "sku", "TEE-S"}, map[string]string{"TEE-M": "4"}},                                           // nothing to remove
	} {
		body := s.setQty(t, append(step.params, "oauth_token", token)...).MustStatus(t, http.StatusOK).JSON(t)
		if diff := cmp.Diff(step.want, qtys(t, body)); diff != "" {
			t.Errorf("%v: quantities (-want +got):\n%s", step.params, diff)
		}
		for sku, it := range items(t, body) {
			if it["cart_id"] != cartID {
				t.Errorf("%v: %s in cart %v, want the customer's cart %v", step.params, sku, it["cart_id"], cartID)
			}
		}
	}
	if q := body["cart"].(map[string]any)["qty"]; q != json.Number("2") {
		t.Errorf("cart qty %v, want 2", q)
	}

	t.Run("the customer's most recently active cart", func(t *testing.T) {
		v, err := s.Engine.CreateCart(context.Background(), s.Principal, engine.NewCart{CustomerID: "alice"}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Clock.Advance(time.Second)
		body := s.setQty(t, "qty", "1", "sku", "TEE-S", "oauth_token", token).MustStatus(t, http.StatusOK).JSON(t)
		if got := items(t, body)["TEE-S"]["cart_id"].(json.Number).String(); got != fmt.Sprint(v.Cart.Num) {
			t.Errorf("set in cart %s, want the newer cart %d", got, v.Cart.Num)
		}
	})

	t.Run("nothing available leaves the item out", func(t *testing.T) {
		s := mustServer(t, time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC))
		s.MustProductStock(t, simpleProduct("prod_tee", 2499, "TEE-S"), nil)
		body := s.setQty(t, "qty", "1", "sku", "TEE-S", "oauth_token", s.MustToken(t, "bob")).MustStatus(t, http.StatusOK).JSON(t)
		c := body["cart"].(map[string]any)
		if len(c["items"].([]any)) != 0 || c["qty"] != json.Number("0") || c["total"] != "0.00" {
			t.Errorf("cart = %v, want empty", c)
		}
	})
}

func TestExpiredItems(t *testing.T) {
	s := mustServer(t, time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC))
	ctx := context.Background()
	if _, err := s.Engine.PutSale(ctx, s.Principal, cart.Sale{ID: "sale_flash", Name: "Flash",
		StartsAt: s.Clock.Now().Add(-time.Hour), EndsAt: s.Clock.Now().Add(time.Hour)}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	flash := simpleProduct("prod_flash", 1500, "FLASH-1")
	flash.Variants[0].SaleID = "sale_flash"
	s.MustProductStock(t, flash, map[string]int64{"FLASH-1": 10})
	s.MustProductStock(t, simpleProduct("prod_tee", 2499, "TEE-S"), map[string]int64{"TEE-S": 10})
	token := s.MustToken(t, "alice")
	s.setQty(t, "qty", "2", "sku", "FLASH-1", "oauth_token", token).MustStatus(t, http.StatusOK)

	s.Clock.Advance(2 * time.Hour) // the sale ended
	body := s.setQty(t, "qty", "1", "sku", "TEE-S", "oauth_token", token).MustStatus(t, http.StatusOK).JSON(t)
	c := body["cart"].(map[string]any)
	it := items(t, body)
	if it["FLASH-1"]["is_expired"] != true || it["TEE-S"]["is_expired"] != false {
		t.Errorf("is_expired: FLASH-1 %v, TEE-S %v; want true, false", it["FLASH-1"]["is_expired"], it["TEE-S"]["is_expired"])
	}
	if c["expired"] != json.Number("2") || c["qty"] != json.Number("1") || c["subtotal"] != "24.99" {
		t.Errorf("cart expired %v, qty %v, subtotal %v; want 2, 1, 24.99", c["expired"], c["qty"], c["subtotal"])
	}
	r := s.setQty(t, "qty", "3", "sku", "FLASH-1", "oauth_token", token).MustStatus(t, http.StatusConflict).JSON(t)
	if r["success"] != false || r["code"] != "item_unavailable" {
		t.Errorf("raising an ended sale's item: %v", r)
	}
	body = s.setQty(t, "qty", "0", "sku", "FLASH-1", "oauth_token", token).MustStatus(t, http.StatusOK).JSON(t)
	if _, ok := items(t, body)["FLASH-1"]; ok {
		t.Error("qty 0 left the ended sale's item in the cart")
	}
}

// TestAgreesWithNativeAPI reads the cart set_qty answers with through the native API: the same
// items, quantities and totals.
func TestAgreesWithNativeAPI(t *testing.T) {
	s := mustServer(t, time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC))
	ctx := context.Background()
	if _, err := s.Engine.PutSettings(ctx, s.Principal, engine.SettingsUpdate{
		Shipping: map[string]cart.ShippingRate{"USD": {Flat: 599, FreeOver: 100000}}}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	tee := simpleProduct("prod_tee", 2499, "TEE-S", "TEE-M")
	tee.Variants[0].TaxRate, tee.Variants[0].RetailPrices = 800, map[string]int64{"USD": 3000}
	s.MustProductStock(t, tee, map[string]int64{"TEE-S": 10, "TEE-M": 3})
	s.MustProductStock(t, simpleProduct("prod_cable", 1999, "CABLE"), map[string]int64{"CABLE": 100})
	if _, err := s.Engine.PutPromotion(ctx, s.Principal, cart.Promotion{Code: "FIVE", Name: "Five off", Type: cart.Cash, Method: cart.Auto,
		Amounts: map[string]int64{"USD": 500}, Active: true}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	token := s.MustToken(t, "alice")
	s.setQty(t, "qty", "3", "sku", "TEE-S", "oauth_token", token).MustStatus(t, http.StatusOK)
	s.setQty(t, "qty", "2", "sku", "CABLE", "oauth_token", token).MustStatus(t, http.StatusOK)
	body := s.setQty(t, "qty", "7", "sku", "TEE-M", "oauth_token", token).MustStatus(t, http.StatusOK).JSON(t)

	c := body["cart"].(map[string]any)
	native := s.nativeCart(t, items(t, body)["CABLE"]["cart_id"].(json.Number))
	dec := func(field string) string {
		n, err := native[field].(json.Number).Int64()
		if err != nil {
			t.Fatal(err)
		}
		s, _ := money.Format(n, native["currency"].(string))
		return s
	}
	for jt, nat := range map[string]string{"subtotal": "subtotal", "tax": "tax", "shipping": "shipping", "discount": "discount",
		"total": "total", "retail": "retail_total", "saved": "saved"} {
		if c[jt] != dec(nat) {
			t.Errorf("%s: JackThreads %v, native %s %s", jt, c[jt], nat, dec(nat))
		}
	}
	if c["qty"] != native["item_count"] || c["expired"] != native["expired"] {
		t.Errorf("qty %v, expired %v; native item_count %v, expired %v", c["qty"], c["expired"], native["item_count"], native["expired"])
	}
	nativeQty := map[string]string{}
	for _, it := range native["items"].([]any) {
		item := it.(map[string]any)
		nativeQty[item["sku"].(string)] = item["quantity"].(json.Number).String()
	}
	if diff := cmp.Diff(nativeQty, qtys(t, body)); diff != "" {
		t.Errorf("quantities (-native +JackThreads):\n%s", diff)
	}
	if qtys(t, body)["TEE-M"] != "3" {
		t.Errorf("TEE-M = %s, want 3 (capped)", qtys(t, body)["TEE-M"])
	}
	if coupons := c["coupons"].([]any); len(coupons) != 1 || coupons[0].(map[string]any)["amount"] != "5.00" || coupons[0].(map[string]any)["method"] != "auto" {
		t.Errorf("coupons = %v, want the automatic FIVE at 5.00", coupons)
	}
}

func TestErrors(t *testing.T) {
	s := mustServer(t, time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC))
	ctx := context.Background()
	s.MustProductStock(t, simpleProduct("prod_tee", 2499, "TEE-S"), map[string]int64{"TEE-S": 5})
	if _, err := s.Engine.PutSale(ctx, s.Principal, cart.Sale{ID: "sale_later", Name: "Later",
		StartsAt: s.Clock.Now().Add(time.Hour), EndsAt: s.Clock.Now().Add(2 * time.Hour)}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	later := simpleProduct("prod_later", 1000, "LATER")
	later.Variants[0].SaleID = "sale_later"
	s.MustProductStock(t, later, map[string]int64{"LATER": 5})
	token := s.MustToken(t, "alice")
	expiring, _, err := s.Engine.IssueToken(ctx, s.Principal, "carol", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	revoked, tok, err := s.Engine.IssueToken(ctx, s.Principal, "dave", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Engine.RevokeToken(ctx, s.Principal, "dave", tok.Num); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(2 * time.Second)

	for _, tc := range []struct {
		name   string
		form   string
		status int
		code   string
	}{
		{"no token", "qty=1&sku=TEE-S", 401, "missing_token"},
		{"an empty token", "qty=1&sku=TEE-S&oauth_token=", 401, "missing_token"},
		{"an unknown token", "qty=1&sku=TEE-S&oauth_token=ct_nope", 401, "invalid_token"},
		{"an expired token", "qty=1&sku=TEE-S&oauth_token=" + expiring, 401, "invalid_token"},
		{"a revoked token", "qty=1&sku=TEE-S&oauth_token=" + revoked, 401, "invalid_token"},
		{"an API key for a token", "qty=1&sku=TEE-S&oauth_token=" + s.Admin, 401, "invalid_token"},
		{"a bad token, whatever the parameters", "qty=abc&oauth_token=ct_nope", 401, "invalid_token"},
		{"no qty", "sku=TEE-S&oauth_token=" + token, 400, "missing_qty"},
		{"a qty that is not a number", "qty=two&sku=TEE-S&oauth_token=" + token, 400, "invalid_qty"},
		{"a fractional qty", "qty=1.5&sku=TEE-S&oauth_token=" + token, 400, "invalid_qty"},
		{"a negative qty", "qty=-1&sku=TEE-S&oauth_token=" + token, 400, "invalid_qty"},
		{"an enormous qty", "qty=99999999999999999999&sku=TEE-S&oauth_token=" + token, 400, "invalid_qty"},
		{"a qty above the limit per item", "qty=1000&sku=TEE-S&oauth_token=" + token, 400, "quantity_limit"},
		{"neither sku nor option_id", "qty=1&oauth_token=" + token, 400, "missing_item"},
		{"both sku and option_id", "qty=1&sku=TEE-S&option_id=1&oauth_token=" + token, 400, "ambiguous_item"},
		{"an option_id that is not a number", "qty=1&option_id=abc&oauth_token=" + token, 400, "invalid_option_id"},
		{"an option_id of 0", "qty=1&option_id=0&oauth_token=" + token, 400, "invalid_option_id"},
		{"a sale_id that is not a number", "qty=1&sku=TEE-S&sale_id=x&oauth_token=" + token, 400, "invalid_sale_id"},
		{"an unknown sku", "qty=1&sku=NOPE&oauth_token=" + token, 400, "unknown_variant"},
		{"an unknown option_id", "qty=1&option_id=424242&oauth_token=" + token, 400, "unknown_variant"},
		{"an item whose sale has not started", "qty=1&sku=LATER&oauth_token=" + token, 409, "sale_not_started"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.post(t, "/services/v1/cart/set_qty", tc.form).MustStatus(t, tc.status).JSON(t)
			if r["success"] != false || r["code"] != tc.code || r["message"] == "" || len(r) != 3 {
				t.Errorf("body = %v, want success false, code %s and a message", r, tc.code)
			}
		})
	}
	if body := s.setQty(t, "qty", "0", "sku", "TEE-S", "oauth_token", token).MustStatus(t, 200).JSON(t); len(items(t, body)) != 0 {
		t.Errorf("refused calls changed the cart: %v", body)
	}

	t.Run("other paths, methods and bodies", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, contentType, body string
			status                          int
			code                            string
		}{
			{"GET", "/services/v1/cart/set_qty", "", "", 405, "method_not_allowed"},
			{"POST", "/services/v1/cart/nope", "application/x-www-form-urlencoded", "", 404, "not_found"},
			{"POST", "/services/v1/cart/set_qty", "application/json", `{"qty": 1}`, 415, "unsupported_media_type"},
			{"POST", "/services/v1/cart/set_qty", "application/x-www-form-urlencoded", "qty=1&sku=" + strings.Repeat("x", 70<<10), 413, "body_too_large"},
			{"POST", "/services/v1/cart/set_qty", "application/x-www-form-urlencoded", "qty=1&sku=%zz&oauth_token=" + token, 400, "malformed_body"},
		} {
			req, _ := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			r := s.Send(t, req).MustStatus(t, tc.status)
			if body := r.JSON(t); body["success"] != false || body["code"] != tc.code {
				t.Errorf("%s %s: %v, want code %s", tc.method, tc.path, body, tc.code)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s %s: Cache-Control %q", tc.method, tc.path, r.Header.Get("Cache-Control"))
			}
		}
	})

	t.Run("parameters may come in the query string, as multipart, and without a Content-Type", func(t *testing.T) {
		r := s.post(t, "/services/v1/cart/set_qty?qty=2&sku=TEE-S", "oauth_token="+token).MustStatus(t, 200).JSON(t)
		if qtys(t, r)["TEE-S"] != "2" {
			t.Errorf("query parameters: %v", qtys(t, r))
		}
		mp := "--b\r\nContent-Disposition: form-data; name=\"qty\"\r\n\r\n3\r\n--b\r\nContent-Disposition: form-data; name=\"sku\"\r\n\r\nTEE-S\r\n" +
			"--b\r\nContent-Disposition: form-data; name=\"oauth_token\"\r\n\r\n" + token + "\r\n--b--\r\n"
		r = s.post(t, "/services/v1/cart/set_qty", mp, "Content-Type", "multipart/form-data; boundary=b").MustStatus(t, 200).JSON(t)
		if qtys(t, r)["TEE-S"] != "3" {
			t.Errorf("multipart: %v", qtys(t, r))
		}
		req, _ := http.NewRequest("POST", s.URL+"/services/v1/cart/set_qty", strings.NewReader("qty=4&sku=TEE-S&oauth_token="+token))
		r = s.Send(t, req).MustStatus(t, 200).JSON(t)
		if qtys(t, r)["TEE-S"] != "4" {
			t.Errorf("a form without a Content-Type: %v", qtys(t, r))
		}
	})
}

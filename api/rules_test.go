package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/dialect/ebay"
	"github.com/cartd/cartd/dialect/jackthreads"
	"github.com/cartd/cartd/dialect/sourcehub"
	"github.com/cartd/cartd/dialect/storefront"
	"github.com/cartd/cartd/engine"
)

// frontDoors is cartd with the native API and the four dialects on one engine, on the store
// CARTD_TEST_STORE names.
type frontDoors struct {
	url    string
	admin  string
	eng    *engine.Engine
	p      auth.Principal
	client *http.Client
}

func mustFrontDoors(tb testing.TB) *frontDoors {
	tb.Helper()
	st := mustStore(tb, nil)
	eng := engine.New(st, engine.Config{ReservationTTL: 15 * time.Minute})
	secret, _, err := eng.CreateKey(context.Background(), []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := eng.Authenticate(context.Background(), secret)
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", api.New(eng, api.Config{}))
	mux.Handle(sourcehub.Prefix, sourcehub.New(eng, sourcehub.Config{}))
	mux.Handle(ebay.Prefix, ebay.New(eng, ebay.Config{PublicURL: "https://shop.example"}))
	mux.Handle(jackthreads.Prefix, jackthreads.New(eng, jackthreads.Config{}))
	mux.Handle(storefront.Prefix, storefront.New(eng, storefront.Config{}))
	hs := httptest.NewServer(mux)
	tb.Cleanup(func() {
		hs.Close()
		st.Close()
	})
	return &frontDoors{url: hs.URL, admin: secret, eng: eng, p: p, client: hs.Client()}
}

// send sends a request and returns its status and body; form, when set, is sent as a form.
func (f *frontDoors) send(tb testing.TB, c *http.Client, method, path string, header map[string]string, body any) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode >= 500 {
		tb.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, raw
}

// drawRule draws a valid rule as a shop would write it, or none.
func drawRule(t *rapid.T, label string) map[string]any {
	if rapid.IntRange(0, 3).Draw(t, label+"_has") == 0 {
		return nil
	}
	inc := rapid.SampledFrom([]int64{1, 2, 3}).Draw(t, label+"_increment")
	r := map[string]any{"increment": inc}
	lowest := inc
	if rapid.Bool().Draw(t, label+"_has_min") {
		lowest = inc * rapid.Int64Range(1, 3).Draw(t, label+"_min_steps")
		r["min"] = lowest
	}
	if rapid.Bool().Draw(t, label+"_has_max") {
		r["max"] = lowest + inc*rapid.Int64Range(0, 4).Draw(t, label+"_max_steps")
	}
	if rapid.IntRange(0, 2).Draw(t, label+"_has_mpc") > 0 {
		r["max_per_customer"] = lowest + rapid.Int64Range(0, 8).Draw(t, label+"_mpc_over")
	}
	return r
}

// lineState is what a line holds, by cart and SKU.
type lineState struct{ quantity, reserved int64 }

// TestQuantityRulesHoldThroughEveryFrontDoor runs random calls of every front door that sets a
// quantity (native add, set, delta and batch under each policy, a guest cart's merge at
// sign-in, SourceHub, eBay, JackThreads and the storefront's add and delta) against random
// rules and stock, and checks after each call that every line holds a quantity its rule
// allows, that no customer holds more of a variant than its max_per_customer across their
// carts, that a line only grew by a call naming it and then to no more than was asked, and,
// unless backordered, no more than was free; that a refused call changed nothing; and that
// each SKU's reservations add up (no oversell).
func TestQuantityRulesHoldThroughEveryFrontDoor(t *testing.T) {
	f := mustFrontDoors(t)
	ctx := context.Background()
	var round atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		n := round.Add(1)
		customer := strconv.FormatInt(9000+n, 10) // SourceHub's customers are numbers
		skus := []string{fmt.Sprintf("RA%d", n), fmt.Sprintf("RB%d", n), fmt.Sprintf("RC%d", n)}
		variants := []any{
			map[string]any{"id": "var_ra" + strconv.FormatInt(n, 10), "sku": skus[0], "price": map[string]any{"USD": 700}},
			map[string]any{"id": "var_rb" + strconv.FormatInt(n, 10), "sku": skus[1], "price": map[string]any{"USD": 900}},
		}
		if r := drawRule(rt, "variant_rule"); r != nil {
			variants[1].(map[string]any)["quantity_rule"] = r
		}
		prod := map[string]any{"name": "Ruled", "variants": variants}
		if r := drawRule(rt, "product_rule"); r != nil {
			prod["quantity_rule"] = r
		}
		prodID := "prod_r" + strconv.FormatInt(n, 10)
		productNum := map[string]int64{}
		st, body := f.send(t, f.client, "PUT", "/v1/products/"+prodID, f.bearer(), prod)
		if st != 200 {
			rt.Fatalf("PUT product: %d %s", st, body)
		}
		productNum[skus[0]], productNum[skus[1]] = numberOf(rt, body), numberOf(rt, body)
		other := map[string]any{"name": "Other", "quantity_rule": drawRule(rt, "other_rule"), "variants": []any{
			map[string]any{"id": "var_rc" + strconv.FormatInt(n, 10), "sku": skus[2], "price": map[string]any{"USD": 300}}}}
		if other["quantity_rule"] == nil {
			delete(other, "quantity_rule")
		}
		if st, body = f.send(t, f.client, "PUT", "/v1/products/prod_o"+strconv.FormatInt(n, 10), f.bearer(), other); st != 200 {
			rt.Fatalf("PUT product: %d %s", st, body)
		}
		productNum[skus[2]] = numberOf(rt, body)
		for _, sku := range skus {
			onHand := rapid.Int64Range(0, 25).Draw(rt, "on_hand_"+sku)
			if st, body := f.send(t, f.client, "PUT", "/v1/inventory/"+sku, f.bearer(), map[string]any{"on_hand": onHand}); st != 200 {
				rt.Fatalf("PUT inventory: %d %s", st, body)
			}
		}
		token, _, err := f.eng.IssueToken(ctx, f.p, customer, 0)
		if err != nil {
			rt.Fatal(err)
		}
		open := func(owner string) int64 {
			v, err := f.eng.CreateCart(ctx, f.p, engine.NewCart{CustomerID: owner, Currency: "USD"}, engine.Options{})
			if err != nil {
				rt.Fatal(err)
			}
			return v.Cart.Num
		}
		carts := []int64{open(customer), open(customer)} // the customer's carts, and guests' below
		owner := map[int64]string{carts[0]: customer, carts[1]: customer}
		guest := open("")
		carts = append(carts, guest)
		jar, _ := cookiejar.New(nil)
		shopper := &http.Client{Jar: jar, Transport: f.client.Transport}

		steps := rapid.IntRange(5, 14).Draw(rt, "steps")
		for step := range steps {
			before, stockBefore := f.snapshot(rt, carts, skus)
			sku := rapid.SampledFrom(skus).Draw(rt, "sku")
			qty := rapid.Int64Range(0, 14).Draw(rt, "quantity")
			delta := rapid.SampledFrom([]int64{-3, -2, -1, 1, 2, 3}).Draw(rt, "delta")
			policy := rapid.SampledFrom([]string{"reject", "clamp", "ignore"}).Draw(rt, "policy")
			c := rapid.SampledFrom(carts).Draw(rt, "cart")
			var (
				status int
				body   []byte
				// bound is the most the line the call names may hold after it, given what it
				// held before (no bound for a merge, which moves quantities between lines).
				bound func(was int64) int64
				// anyCart says the dialect picks which of the customer's carts it changes.
				anyCart bool
				// mergedFrom is the cart a merge takes lines from: their stock is free for the
				// lines they go into.
				mergedFrom int64
			)
			setTo := func(n int64) func(int64) int64 { return func(int64) int64 { return n } }
			add := func(d int64) func(int64) int64 { return func(was int64) int64 { return was + d } }
			call := rapid.SampledFrom([]string{"native add", "native set", "native delta", "native batch", "sign-in merge",
				"sourcehub", "ebay", "jackthreads", "storefront add", "storefront delta"}).Draw(rt, "call")
			itemOf := func(cartNum int64) (int64, bool) {
				for _, l := range f.lines(rt, cartNum) {
					if l.Variant.SKU == sku {
						return l.Item.Num, true
					}
				}
				return 0, false
			}
			switch call {
			case "native add":
				qty = max(qty, 1)
				bound = add(qty)
				status, body = f.send(t, f.client, "POST", fmt.Sprintf("/v1/carts/cart_%d/items", c), f.bearer(),
					map[string]any{"sku": sku, "quantity": qty, "stock_policy": policy})
			case "native set":
				item, ok := itemOf(c)
				if !ok {
					continue
				}
				bound = setTo(qty)
				status, body = f.send(t, f.client, "PUT", fmt.Sprintf("/v1/carts/cart_%d/items/ci_%d", c, item), f.bearer(),
					map[string]any{"quantity": qty, "stock_policy": policy})
			case "native delta":
				item, ok := itemOf(c)
				if !ok {
					continue
				}
				bound = add(delta)
				status, body = f.send(t, f.client, "PATCH", fmt.Sprintf("/v1/carts/cart_%d/items/ci_%d", c, item), f.bearer(),
					map[string]any{"quantity_delta": delta, "stock_policy": policy})
			case "native batch":
				bound = setTo(qty)
				status, body = f.send(t, f.client, "PATCH", fmt.Sprintf("/v1/carts/cart_%d/items", c), f.bearer(),
					map[string]any{"changes": []any{map[string]any{"sku": sku, "quantity": qty, "stock_policy": policy}}})
			case "sign-in merge":
				policy, mergedFrom = "clamp", guest
				status, body = f.send(t, f.client, "PATCH", fmt.Sprintf("/v1/carts/cart_%d", guest), f.bearer(),
					map[string]any{"customer_id": customer})
				if status == 200 {
					owner[guest] = customer
					guest = open("")
					carts = append(carts, guest)
				}
			case "sourcehub":
				item, ok := itemOf(c)
				if !ok || owner[c] != customer {
					continue
				}
				bound, policy, anyCart = setTo(qty), "reject", true
				status, body = f.send(t, f.client, "POST", fmt.Sprintf("/api/cart/update-item?quantity=%d&customer_id=%s&cart_id=%d", qty, customer, item),
					f.bearer(), nil)
			case "ebay":
				item, ok := itemOf(c)
				if !ok || owner[c] != customer {
					continue
				}
				bound, policy, anyCart = setTo(qty), "clamp", true
				status, body = f.send(t, f.client, "POST", "/buy/browse/v1/shopping_cart/update_quantity",
					map[string]string{"Authorization": "Bearer " + token, "X-EBAY-C-MARKETPLACE-ID": "EBAY_US"},
					map[string]any{"cartItemId": fmt.Sprintf("ci_%d", item), "quantity": qty})
			case "jackthreads":
				bound, policy, anyCart = setTo(qty), "clamp", true
				status, body = f.send(t, f.client, "POST", "/services/v1/cart/set_qty", nil,
					url.Values{"qty": {strconv.FormatInt(qty, 10)}, "sku": {sku}, "oauth_token": {token}})
			case "storefront add", "storefront delta":
				key := fmt.Sprintf("prod%d_%s_dflt", productNum[sku], sku)
				policy, anyCart = "clamp", true
				if call == "storefront add" {
					qty = max(qty, 1)
					bound = add(qty)
					status, body = f.send(t, shopper, "POST", "/api/v1/cart/", nil, map[string]any{"item_key": key, "quantity": qty})
				} else {
					bound = add(delta)
					status, body = f.send(t, shopper, "PUT", "/api/v1/cart/items/", nil, map[string]any{"item_key": key, "quantity": delta})
				}
				var sc struct {
					Cart struct {
						ID *int64 `json:"id"`
					} `json:"cart"`
				}
				if json.Unmarshal(body, &sc) == nil && sc.Cart.ID != nil && !containsNum(carts, *sc.Cart.ID) {
					carts = append(carts, *sc.Cart.ID)
				}
			}
			after, stockAfter := f.snapshot(rt, carts, skus)
			f.checkRules(rt, carts, owner)
			// Stock: reservations add up, and never exceed what is on hand.
			for _, s := range skus {
				var held int64
				for _, lines := range after {
					held += lines[s].reserved
				}
				if st := stockAfter[s]; st.Reserved != held || st.Reserved > st.OnHand {
					rt.Fatalf("step %d (%s): %s reserved %d, on hand %d, lines hold %d", step, call, s, st.Reserved, st.OnHand, held)
				}
			}
			for cartNum, lines := range after {
				for s, now := range lines {
					was := before[cartNum][s]
					if status >= 400 && now != was && call != "sign-in merge" {
						rt.Fatalf("step %d (%s) refused %d %s but changed cart %d %s from %+v to %+v", step, call, status, body, cartNum, s, was, now)
					}
					if now.quantity <= was.quantity {
						continue
					}
					if s != sku && call != "sign-in merge" {
						rt.Fatalf("step %d (%s on %s) raised cart %d %s from %d to %d", step, call, sku, cartNum, s, was.quantity, now.quantity)
					}
					if !anyCart && call != "sign-in merge" && cartNum != c {
						rt.Fatalf("step %d (%s) raised cart %d, not the cart it named (%d)", step, call, cartNum, c)
					}
					if bound != nil && now.quantity > bound(was.quantity) {
						rt.Fatalf("step %d (%s): cart %d %s went from %d to %d, above the %d asked for; %s", step, call, cartNum, s, was.quantity, now.quantity, bound(was.quantity), body)
					}
					if free := stockBefore[s].Available() + was.reserved + before[mergedFrom][s].reserved; policy != "ignore" && now.quantity > free {
						rt.Fatalf("step %d (%s, %s): cart %d %s raised from %d to %d with %d free; %s", step, call, policy, cartNum, s, was.quantity, now.quantity, free, body)
					}
				}
			}
		}
	})
}

func numberOfT(t *testing.T, body []byte) int64 {
	t.Helper()
	var p struct {
		Number int64 `json:"number"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Number == 0 {
		t.Fatalf("no product number in %s", body)
	}
	return p.Number
}

// numberOf reads the number of a product from its JSON.
func numberOf(t *rapid.T, body []byte) int64 {
	var p struct {
		Number int64 `json:"number"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Number == 0 {
		t.Fatalf("no product number in %s", body)
	}
	return p.Number
}

func (f *frontDoors) bearer() map[string]string {
	return map[string]string{"Authorization": "Bearer " + f.admin}
}

func containsNum(nums []int64, n int64) bool {
	for _, m := range nums {
		if m == n {
			return true
		}
	}
	return false
}

// lines are every line of a cart: counted, expired and unavailable.
func (f *frontDoors) lines(t interface{ Fatal(...any) }, num int64) []cart.LineView {
	v, err := f.eng.Cart(context.Background(), f.p, num)
	if err != nil {
		t.Fatal(err)
	}
	return append(append(append([]cart.LineView(nil), v.Lines...), v.ExpiredLines...), v.Unavailable...)
}

// snapshot reads every line of the carts by cart and SKU, and the SKUs' stock.
func (f *frontDoors) snapshot(t *rapid.T, carts []int64, skus []string) (map[int64]map[string]lineState, map[string]cart.Stock) {
	out := map[int64]map[string]lineState{}
	for _, num := range carts {
		out[num] = map[string]lineState{}
		for _, l := range f.lines(t, num) {
			out[num][l.Variant.SKU] = lineState{l.Item.Quantity, l.Item.ReservedQuantity}
		}
	}
	stock := map[string]cart.Stock{}
	for _, sku := range skus {
		st, err := f.eng.Inventory(context.Background(), f.p, sku)
		if err != nil {
			t.Fatal(err)
		}
		stock[sku] = st
	}
	return out, stock
}

// checkRules holds every line to its rule, and each customer's units of a variant across
// their carts to its max_per_customer (a guest cart's to it alone).
func (f *frontDoors) checkRules(t *rapid.T, carts []int64, owner map[int64]string) {
	units := map[string]int64{} // customer + SKU
	limits := map[string]int64{}
	for _, num := range carts {
		for _, l := range f.lines(t, num) {
			rule := cart.RuleOf(l.Variant, l.Product)
			if !rule.Span(0).Allows(l.Item.Quantity) {
				t.Fatalf("cart %d holds %d of %s, which its rule %+v does not allow", num, l.Item.Quantity, l.Variant.SKU, rule)
			}
			who := owner[num]
			if who == "" {
				who = fmt.Sprintf("guest cart %d", num)
			}
			units[who+" "+l.Variant.SKU] += l.Item.Quantity
			limits[who+" "+l.Variant.SKU] = rule.MaxPerCustomer
		}
	}
	for k, n := range units {
		if lim := limits[k]; lim > 0 && n > lim {
			t.Fatalf("%s: %d units, above max_per_customer %d", k, n, lim)
		}
	}
}

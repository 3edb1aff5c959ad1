package storefront_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/dialect/storefront"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/money"
)

// The seed's example responses, verbatim.
const (
	seedUpdated        = `{"success": true, "message": "Quantity updated"}`
	seedLimited        = `{"success": true, "message": "Quantity limited to available stock: (5)"}`
	seedRemoved        = `{"success": true, "message": "Item removed from cart"}`
	seedInvalidKey     = `{"item_key": ["Invalid cart item key"]}`
	seedUnavailable    = `{"item_key": ["Product is no longer availabe"]}`
	seedInsufficient   = `{"quantity": ["Requested quantity: (10) exceeds available stock: (5) for this variant"]}`
	seedVariantRemoved = `{"item_key": ["Product variant no longer exists"]}`
	seedItemDeleted    = `{"success": true, "message": "Item has been removed from cart"}`
	seedNotInCart      = `{"success": false, "message": "This item is not in your cart"}`
)

// The seed's example request: PUT /api/v1/cart/items/ with this body and the session cookie.
const seedRequest = `{
"item_key": "prod123_SKU789_dflt",
"quantity": 2
}`

// seedKey is the item_key of the seed's examples.
const seedKey = "prod123_SKU789_dflt"

// mustSeedCatalog arranges the catalog of the seed's examples: product number 123 (the
// products before it are fillers) with the variant SKU789, and onHand units of it.
func (s *testServer) mustSeedCatalog(tb testing.TB, onHand int64) cart.Product {
	tb.Helper()
	for i := 1; i < 123; i++ {
		s.MustProduct(tb, simpleProduct(fmt.Sprintf("prod_filler_%d", i), 100, fmt.Sprintf("FILL-%d", i)), 0)
	}
	p := s.MustProduct(tb, simpleProduct("prod_seed", 2500, "SKU789", "SKU790"), onHand)
	if p.Num != 123 {
		tb.Fatalf("the seed's product has number %d, want 123", p.Num)
	}
	return p
}

// nativeCart reads a cart through the native API.
func (s *testServer) nativeCart(tb testing.TB, id json.Number) map[string]any {
	tb.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/v1/carts/cart_"+id.String(), nil)
	req.Header.Set("Authorization", "Bearer "+s.Admin)
	resp, err := s.Client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	d := json.NewDecoder(resp.Body)
	d.UseNumber()
	if err := d.Decode(&m); err != nil || resp.StatusCode != 200 {
		tb.Fatalf("GET /v1/carts/cart_%s: %d, %v", id, resp.StatusCode, err)
	}
	return m
}

func TestSeedExamples(t *testing.T) {
	t.Run("the example request adds its quantity to the item", func(t *testing.T) {
		s := mustServer(t)
		s.mustSeedCatalog(t, 50)
		b := s.shopper(t)
		b.add(t, seedKey, 1).MustStatus(t, http.StatusOK)
		b.do(t, "PUT", "/api/v1/cart/items/", seedRequest, "Cookie", "sessionid="+b.session(t)).MustBody(t, http.StatusOK, seedUpdated)
		if q := quantities(t, b.view(t)); q[seedKey] != 3 {
			t.Errorf("quantity = %d after adding 2 to 1, want 3", q[seedKey])
		}
	})

	t.Run("stock limited: capped at the stock available", func(t *testing.T) {
		s := mustServer(t)
		s.mustSeedCatalog(t, 5)
		b := s.shopper(t)
		b.add(t, seedKey, 4).MustStatus(t, http.StatusOK)
		b.do(t, "PUT", "/api/v1/cart/items/", seedRequest).MustBody(t, http.StatusOK, seedLimited)
		if q := quantities(t, b.view(t)); q[seedKey] != 5 {
			t.Errorf("quantity = %d, want 5", q[seedKey])
		}
	})

	t.Run("item removed: at zero or less", func(t *testing.T) {
		s := mustServer(t)
		s.mustSeedCatalog(t, 5)
		b := s.shopper(t)
		b.add(t, seedKey, 2).MustStatus(t, http.StatusOK)
		b.update(t, seedKey, -3).MustBody(t, http.StatusOK, seedRemoved)
		if q := quantities(t, b.view(t)); len(q) != 0 {
			t.Errorf("cart holds %v, want nothing", q)
		}
	})

	t.Run("invalid item key", func(t *testing.T) {
		s := mustServer(t)
		s.mustSeedCatalog(t, 5)
		b := s.shopper(t)
		b.add(t, seedKey, 1).MustStatus(t, http.StatusOK)
		for _, key := range []string{
			"prod123_SKU789_DFLT", "PROD123_SKU789_dflt", "prod0123_SKU789_dflt", "prod123_SKU789", "prodX_SKU789_dflt",
			"prod123__dflt", "prod123_SKU 789_dflt", "", "prod99999999999999999999_SKU789_dflt",
		} {
			for _, method := range []string{"PUT", "DELETE"} {
				t.Run(method+" "+key, func(t *testing.T) {
					b.do(t, method, "/api/v1/cart/items/", map[string]any{"item_key": key, "quantity": 1}).MustBody(t, http.StatusBadRequest, seedInvalidKey)
				})
			}
		}
		// A key whose SKU is a variant of another product names nothing.
		b.add(t, "prod122_SKU789_dflt", 1).MustBody(t, http.StatusBadRequest, seedInvalidKey)
	})

	t.Run("product unavailable: removed, and the removal stands", func(t *testing.T) {
		s := mustServer(t)
		p := s.mustSeedCatalog(t, 5)
		b := s.shopper(t)
		b.add(t, seedKey, 2).MustStatus(t, http.StatusOK)
		b.add(t, "prod123_SKU790_dflt", 1).MustStatus(t, http.StatusOK)
		id := b.view(t)["cart"].(map[string]any)["id"].(json.Number)
		before := s.nativeCart(t, id)["version"].(json.Number)

		p.Variants[0].Active = false
		s.MustProduct(t, p, 5)
		b.do(t, "PUT", "/api/v1/cart/items/", seedRequest).MustBody(t, http.StatusBadRequest, seedUnavailable)

		native := s.nativeCart(t, id)
		if native["version"] == before || len(native["items"].([]any)) != 1 || len(native["unavailable_items"].([]any)) != 0 {
			t.Errorf("stored cart at version %s (was %s) with %d items and %d unavailable, want the removal stored",
				native["version"], before, len(native["items"].([]any)), len(native["unavailable_items"].([]any)))
		}
		if q := quantities(t, b.view(t)); len(q) != 1 || q["prod123_SKU790_dflt"] != 1 {
			t.Errorf("cart holds %v, want the other item only", q)
		}
		// Adding it again is refused the same way.
		b.add(t, seedKey, 1).MustBody(t, http.StatusBadRequest, seedUnavailable)
	})

	t.Run("insufficient stock: an add above it changes nothing", func(t *testing.T) {
		s := mustServer(t)
		s.mustSeedCatalog(t, 5)
		b := s.shopper(t)
		b.add(t, "prod123_SKU790_dflt", 1).MustStatus(t, http.StatusOK)
		id := b.view(t)["cart"].(map[string]any)["id"].(json.Number)
		before := s.nativeCart(t, id)
		b.add(t, seedKey, 10).MustBody(t, http.StatusBadRequest, seedInsufficient)
		// What the cart holds counts: 3 held, 3 more asked, 5 in stock.
		b.add(t, seedKey, 3).MustStatus(t, http.StatusOK)
		b.add(t, seedKey, 3).MustBody(t, http.StatusBadRequest,
			`{"quantity": ["Requested quantity: (6) exceeds available stock: (5) for this variant"]}`)
		after := s.nativeCart(t, id)
		if got, want := after["version"].(json.Number), before["version"].(json.Number); got.String() != strconv.Itoa(mustInt(t, want)+1) {
			t.Errorf("version %s after one accepted add from %s: a refused add changed the cart", got, want)
		}
	})

	t.Run("variant removed", func(t *testing.T) {
		s := mustServer(t)
		p := s.mustSeedCatalog(t, 5)
		b := s.shopper(t)
		b.add(t, seedKey, 2).MustStatus(t, http.StatusOK)
		p.Variants = p.Variants[1:]
		s.MustProduct(t, p, 5)
		b.do(t, "PUT", "/api/v1/cart/items/", seedRequest).MustBody(t, http.StatusBadRequest, seedVariantRemoved)
		b.add(t, seedKey, 1).MustBody(t, http.StatusBadRequest, seedVariantRemoved)
	})

	t.Run("remove an item, and an item not in the cart", func(t *testing.T) {
		s := mustServer(t)
		s.mustSeedCatalog(t, 5)
		b := s.shopper(t)
		b.add(t, seedKey, 2).MustStatus(t, http.StatusOK)
		b.do(t, "DELETE", "/api/v1/cart/items/", `{"item_key": "prod123_SKU789_dflt"}`).MustBody(t, http.StatusOK, seedItemDeleted)
		b.do(t, "DELETE", "/api/v1/cart/items/", `{"item_key": "prod123_SKU789_dflt"}`).MustBody(t, http.StatusNotFound, seedNotInCart)
		b.do(t, "PUT", "/api/v1/cart/items/", seedRequest).MustBody(t, http.StatusNotFound, seedNotInCart)
		// Without a session, nothing is in the cart.
		s.shopper(t).do(t, "DELETE", "/api/v1/cart/items/", `{"item_key": "prod123_SKU789_dflt"}`).MustBody(t, http.StatusNotFound, seedNotInCart)
		// For clients that cannot send a body with DELETE, the key may come in the query.
		b.add(t, seedKey, 1).MustStatus(t, http.StatusOK)
		b.do(t, "DELETE", "/api/v1/cart/items/?item_key="+url.QueryEscape(seedKey), nil).MustBody(t, http.StatusOK, seedItemDeleted)
	})
}

func mustInt(tb testing.TB, n json.Number) int {
	tb.Helper()
	i, err := strconv.Atoi(n.String())
	if err != nil {
		tb.Fatal(err)
	}
	return i
}

// TestQuantityRules holds the dialect to its row of docs/dialects.md (ARCHITECTURE.md
// §Decisions): an additive, non-zero PUT capped at the stock with the seed's message, removal
// at 0 or less, a POST refused above the stock.
func TestQuantityRules(t *testing.T) {
	s := mustServer(t)
	p := s.MustProduct(t, simpleProduct("prod_tee", 2499, "TEE-S"), 8)
	key := fmt.Sprintf("prod%d_TEE-S_dflt", p.Num)
	b := s.shopper(t)
	b.add(t, key, 2).MustStatus(t, http.StatusOK)
	for _, step := range []struct {
		delta, want int64
		message     string
	}{
		{+3, 5, "Quantity updated"},
		{-1, 4, "Quantity updated"},
		{+100, 8, "Quantity limited to available stock: (8)"},
		{-7, 1, "Quantity updated"},
		{-1, 0, "Item removed from cart"},
	} {
		r := b.update(t, key, step.delta)
		r.MustBody(t, http.StatusOK, fmt.Sprintf(`{"success": true, "message": %q}`, step.message))
		if q := quantities(t, b.view(t)); q[key] != step.want {
			t.Errorf("after %+d: quantity %d, want %d", step.delta, q[key], step.want)
		}
	}

	t.Run("a PUT of 0, or of no whole number, is a quantity error", func(t *testing.T) {
		b.add(t, key, 1).MustStatus(t, http.StatusOK)
		for body, want := range map[string]string{
			`{"item_key": "` + key + `", "quantity": 0}`:     `{"quantity": ["Ensure this value is not zero: send a positive quantity to add, a negative one to remove."]}`,
			`{"item_key": "` + key + `"}`:                    `{"quantity": ["This field is required."]}`,
			`{"item_key": "` + key + `", "quantity": 2.5}`:   `{"quantity": ["A valid integer is required."]}`,
			`{"item_key": "` + key + `", "quantity": "two"}`: `{"quantity": ["A valid integer is required."]}`,
			`{"item_key": "` + key + `", "quantity": true}`:  `{"quantity": ["A valid integer is required."]}`,
			`{"quantity": 1}`:                                `{"item_key": ["This field is required."]}`,
			`{"item_key": 7, "quantity": 0}`:                 `{"item_key": ["Not a valid string."], "quantity": ["Ensure this value is not zero: send a positive quantity to add, a negative one to remove."]}`,
		} {
			b.do(t, "PUT", "/api/v1/cart/items/", body).MustBody(t, http.StatusBadRequest, want)
		}
		if q := quantities(t, b.view(t)); q[key] != 1 {
			t.Errorf("quantity %d after refused changes, want 1", q[key])
		}
	})

	t.Run("quantities may be strings of whole numbers, and bodies forms", func(t *testing.T) {
		b.do(t, "PUT", "/api/v1/cart/items/", `{"item_key": "`+key+`", "quantity": "2"}`).MustBody(t, http.StatusOK, `{"success": true, "message": "Quantity updated"}`)
		b.do(t, "PUT", "/api/v1/cart/items/", "item_key="+url.QueryEscape(key)+"&quantity=-1", "Content-Type", "application/x-www-form-urlencoded").
			MustBody(t, http.StatusOK, `{"success": true, "message": "Quantity updated"}`)
		if q := quantities(t, b.view(t)); q[key] != 2 {
			t.Errorf("quantity %d, want 2", q[key])
		}
	})

	t.Run("an add must be at least 1", func(t *testing.T) {
		for _, n := range []int64{0, -1} {
			b.add(t, key, n).MustBody(t, http.StatusBadRequest, `{"quantity": ["Ensure this value is greater than or equal to 1."]}`)
		}
	})

	t.Run("above the limit per item is a quantity error even when capping", func(t *testing.T) {
		s := mustServer(t)
		p := s.MustProduct(t, simpleProduct("prod_tee", 2499, "TEE-S"), 5000)
		key := fmt.Sprintf("prod%d_TEE-S_dflt", p.Num)
		b := s.shopper(t)
		b.add(t, key, 1).MustStatus(t, http.StatusOK)
		r := b.update(t, key, 999).MustStatus(t, http.StatusBadRequest).JSON(t)
		if msgs, ok := r["quantity"].([]any); !ok || len(msgs) != 1 || !strings.Contains(msgs[0].(string), "999") {
			t.Errorf("body %v, want one quantity message naming the limit", r)
		}
	})
}

func TestSessions(t *testing.T) {
	t.Run("the first add issues the sessionid cookie", func(t *testing.T) {
		s := mustServer(t)
		p := s.MustProduct(t, simpleProduct("prod_tee", 2499, "TEE-S"), 8)
		key := fmt.Sprintf("prod%d_TEE-S_dflt", p.Num)
		b := s.shopper(t)
		r := b.do(t, "GET", "/api/v1/cart/", nil).MustStatus(t, http.StatusOK)
		if len(r.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("a read without a session set %v", r.Header.Values("Set-Cookie"))
		}
		body := r.JSON(t)
		if c := body["cart"].(map[string]any); c["id"] != nil || len(c["items"].([]any)) != 0 || c["total"] != "0.00" {
			t.Errorf("cart without a session = %v, want no id, no items, total 0.00", c)
		}
		r = b.add(t, key, 1).MustStatus(t, http.StatusOK)
		cookies := (&http.Response{Header: r.Header}).Cookies()
		if len(cookies) != 1 {
			t.Fatalf("Set-Cookie: %v, want one cookie", r.Header.Values("Set-Cookie"))
		}
		c := cookies[0]
		if c.Name != "sessionid" || c.Value == "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" ||
			c.MaxAge != int(engine.SessionTTL.Seconds()) || c.Secure {
			t.Errorf("cookie = %+v, want sessionid, HttpOnly, SameSite=Lax, Path=/, Max-Age two weeks, not Secure over plain HTTP", c)
		}
		if r := b.add(t, key, 1).MustStatus(t, http.StatusOK); len(r.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("a second add set the cookie again: %v", r.Header.Values("Set-Cookie"))
		}
		if q := quantities(t, b.view(t)); q[key] != 2 {
			t.Errorf("quantity %d after two adds of 1, want 2", q[key])
		}
		r = b.add(t, key, 1)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
		}
	})

	t.Run("the cookie is Secure under TLS", func(t *testing.T) {
		s := mustServer(t)
		p := s.MustProduct(t, simpleProduct("prod_tee", 2499, "TEE-S"), 8)
		key := fmt.Sprintf("prod%d_TEE-S_dflt", p.Num)
		b := s.shopper(t)
		r := b.do(t, "POST", "/api/v1/cart/", map[string]any{"item_key": key, "quantity": 1}, "X-Forwarded-Proto", "https")
		if c := (&http.Response{Header: r.Header}).Cookies(); len(c) != 1 || !c[0].Secure {
			t.Errorf("behind a TLS proxy: Set-Cookie %v, want Secure", r.Header.Values("Set-Cookie"))
		}
		ts := httptest.NewTLSServer(storefront.New(s.Engine, storefront.Config{}))
		defer ts.Close()
		client := ts.Client()
		client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		resp, err := client.Post(ts.URL+"/api/v1/cart/", "application/json", strings.NewReader(`{"item_key": "`+key+`", "quantity": 1}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if c := resp.Cookies(); len(c) != 1 || !c[0].Secure {
			t.Errorf("over TLS: Set-Cookie %v, want Secure", resp.Header.Values("Set-Cookie"))
		}
	})

	t.Run("a session reaches its own cart only", func(t *testing.T) {
		s := mustServer(t)
		p := s.MustProduct(t, simpleProduct("prod_tee", 2499, "TEE-S"), 8)
		key := fmt.Sprintf("prod%d_TEE-S_dflt", p.Num)
		alice, bob := s.shopper(t), s.shopper(t)
		alice.add(t, key, 3).MustStatus(t, http.StatusOK)
		if q := quantities(t, bob.view(t)); len(q) != 0 {
			t.Errorf("bob sees %v", q)
		}
		bob.update(t, key, -1).MustBody(t, http.StatusNotFound, seedNotInCart)
		bob.add(t, key, 1).MustStatus(t, http.StatusOK)
		if a, b := quantities(t, alice.view(t)), quantities(t, bob.view(t)); a[key] != 3 || b[key] != 1 {
			t.Errorf("alice holds %v, bob %v; want 3 and 1", a, b)
		}
		// A made-up or expired cookie is no session.
		forged := s.shopper(t)
		for _, v := range []string{"ss_forged", "garbage", alice.session(t) + "x"} {
			if q := quantities(t, forged.do(t, "GET", "/api/v1/cart/", nil, "Cookie", "sessionid="+v).MustStatus(t, 200).JSON(t)); len(q) != 0 {
				t.Errorf("cookie %q sees %v", v, q)
			}
		}
		s.Clock.Advance(engine.SessionTTL)
		alice.update(t, key, 1).MustBody(t, http.StatusNotFound, seedNotInCart)
	})

	t.Run("clearing empties the cart, and stores nothing without a session", func(t *testing.T) {
		s := mustServer(t)
		p := s.MustProduct(t, simpleProduct("prod_tee", 2499, "TEE-S", "TEE-M"), 8)
		b := s.shopper(t)
		b.add(t, fmt.Sprintf("prod%d_TEE-S_dflt", p.Num), 2).MustStatus(t, http.StatusOK)
		b.add(t, fmt.Sprintf("prod%d_TEE-M_dflt", p.Num), 1).MustStatus(t, http.StatusOK)
		body := b.do(t, "DELETE", "/api/v1/cart/", nil).MustStatus(t, http.StatusOK).JSON(t)
		if body["success"] != true || body["message"] != "Cart cleared" || len(quantities(t, body)) != 0 {
			t.Errorf("clear answered %v", body)
		}
		st, err := s.Engine.Inventory(context.Background(), s.Principal, "TEE-S")
		if err != nil || st.Reserved != 0 {
			t.Errorf("TEE-S reserved %d (%v) after clearing, want 0", st.Reserved, err)
		}
		r := s.shopper(t).do(t, "DELETE", "/api/v1/cart/", nil).MustStatus(t, http.StatusOK)
		if len(r.Header.Values("Set-Cookie")) != 0 || r.JSON(t)["cart"].(map[string]any)["id"] != nil {
			t.Errorf("clearing without a session: %s %v", r.Body, r.Header.Values("Set-Cookie"))
		}
	})
}

func TestUnavailableItemsAreRemovedOnRead(t *testing.T) {
	s := mustServer(t)
	if _, err := s.Engine.PutSale(context.Background(), s.Principal, cart.Sale{ID: "sale_flash", Name: "Flash",
		StartsAt: s.Clock.Now().Add(-time.Hour), EndsAt: s.Clock.Now().Add(time.Hour)}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	flash := simpleProduct("prod_flash", 1500, "FLASH-1")
	flash.Variants[0].SaleID = "sale_flash"
	f := s.MustProduct(t, flash, 10)
	p := s.MustProduct(t, simpleProduct("prod_tee", 2499, "TEE-S"), 8)
	b := s.shopper(t)
	flashKey, teeKey := fmt.Sprintf("prod%d_FLASH-1_dflt", f.Num), fmt.Sprintf("prod%d_TEE-S_dflt", p.Num)
	b.add(t, flashKey, 2).MustStatus(t, http.StatusOK)
	b.add(t, teeKey, 1).MustStatus(t, http.StatusOK)

	s.Clock.Advance(2 * time.Hour) // the sale ended
	body := b.view(t)
	want := []any{map[string]any{"item_key": flashKey, "product_id": json.Number(strconv.FormatInt(f.Num, 10)), "sku": "FLASH-1",
		"name": "Product prod_flash", "quantity": json.Number("2"), "message": "Product is no longer availabe"}}
	if diff := cmp.Diff(want, body["removed_items"]); diff != "" {
		t.Errorf("removed_items (-want +got):\n%s", diff)
	}
	if q := quantities(t, body); len(q) != 1 || q[teeKey] != 1 {
		t.Errorf("cart holds %v, want the tee only", q)
	}
	native := s.nativeCart(t, body["cart"].(map[string]any)["id"].(json.Number))
	if len(native["unavailable_items"].([]any)) != 0 {
		t.Errorf("the native API still shows unavailable items %v: the removal was not stored", native["unavailable_items"])
	}
	if again := b.view(t); len(again["removed_items"].([]any)) != 0 {
		t.Errorf("a second read removed %v", again["removed_items"])
	}
}

// TestAgreesWithNativeAPI reads one cart through the dialect and the native API: the same
// items, quantities and totals.
func TestAgreesWithNativeAPI(t *testing.T) {
	s := mustServer(t)
	ctx := context.Background()
	if _, err := s.Engine.PutSettings(ctx, s.Principal, engine.SettingsUpdate{
		Shipping: map[string]cart.ShippingRate{"USD": {Flat: 599, FreeOver: 100000}}}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Engine.PutPromotion(ctx, s.Principal, cart.Promotion{Code: "TEN", Name: "Ten off", Type: cart.Percent, Method: cart.Auto, Rate: 1000, Active: true}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	tee := simpleProduct("prod_tee", 2499, "TEE-S", "TEE-M")
	tee.Variants[0].Options = []cart.Option{{Name: "size", Value: "S"}}
	p := s.MustProduct(t, tee, 8)
	c := s.MustProduct(t, simpleProduct("prod_cable", 1999, "CABLE"), 100)
	b := s.shopper(t)
	b.add(t, fmt.Sprintf("prod%d_TEE-S_dflt", p.Num), 3).MustStatus(t, http.StatusOK)
	b.add(t, fmt.Sprintf("prod%d_TEE-M_dflt", p.Num), 1).MustStatus(t, http.StatusOK)
	b.add(t, fmt.Sprintf("prod%d_CABLE_dflt", c.Num), 2).MustStatus(t, http.StatusOK)
	b.update(t, fmt.Sprintf("prod%d_TEE-M_dflt", p.Num), +10).MustStatus(t, http.StatusOK) // capped at 8

	body := b.view(t)
	sf := body["cart"].(map[string]any)
	native := s.nativeCart(t, sf["id"].(json.Number))
	dec := func(field string) string {
		n, err := native[field].(json.Number).Int64()
		if err != nil {
			t.Fatal(err)
		}
		s, _ := money.Format(n, native["currency"].(string))
		return s
	}
	for _, f := range []string{"subtotal", "discount", "tax", "shipping", "total"} {
		if sf[f] != dec(f) {
			t.Errorf("%s: storefront %v, native %s", f, sf[f], dec(f))
		}
	}
	if sf["item_count"].(json.Number).String() != native["item_count"].(json.Number).String() || sf["currency"] != native["currency"] {
		t.Errorf("item_count %v in %v, native %v in %v", sf["item_count"], sf["currency"], native["item_count"], native["currency"])
	}
	nativeQty := map[string]string{}
	for _, it := range native["items"].([]any) {
		item := it.(map[string]any)
		nativeQty[item["sku"].(string)] = item["quantity"].(json.Number).String()
	}
	sfQty := map[string]string{}
	for _, it := range sf["items"].([]any) {
		item := it.(map[string]any)
		sfQty[item["sku"].(string)] = item["quantity"].(json.Number).String()
	}
	if diff := cmp.Diff(nativeQty, sfQty); diff != "" {
		t.Errorf("quantities (-native +storefront):\n%s", diff)
	}
	if sfQty["TEE-M"] != "8" {
		t.Errorf("TEE-M = %s, want 8 (capped)", sfQty["TEE-M"])
	}
	if offers := sf["offers"].([]any); len(offers) != 1 || offers[0].(map[string]any)["code"] != "TEN" || sf["discount"] == "0.00" {
		t.Errorf("offers %v, discount %v: want TEN applied", offers, sf["discount"])
	}
}

func TestErrors(t *testing.T) {
	s := mustServer(t)
	b := s.shopper(t)
	for _, tc := range []struct {
		name, method, path, body, contentType string
		status                                int
		want                                  string
	}{
		{"a body that is not JSON", "PUT", "/api/v1/cart/items/", `{"item_key":`, "application/json", 400,
			`{"detail": "JSON parse error - the body is not a JSON object."}`},
		{"a JSON array", "POST", "/api/v1/cart/", `[1]`, "application/json", 400,
			`{"detail": "JSON parse error - the body is not a JSON object."}`},
		{"a body of another type", "POST", "/api/v1/cart/", `item_key`, "text/plain", 415,
			`{"detail": "Unsupported media type \"text/plain\" in request."}`},
		{"an unknown path", "GET", "/api/v1/cart/nope/", "", "application/json", 404, `{"detail": "Not found."}`},
		{"a method not allowed", "PATCH", "/api/v1/cart/items/", "", "application/json", 405, `{"detail": "Method \"PATCH\" not allowed."}`},
		{"a body too large", "POST", "/api/v1/cart/", `{"item_key": "` + strings.Repeat("x", 70<<10) + `"}`, "application/json", 413,
			`{"detail": "Request body exceeds 65536 bytes."}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := b.do(t, tc.method, tc.path, body, "Content-Type", tc.contentType)
			r.MustBody(t, tc.status, tc.want)
			if tc.status == 405 && r.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

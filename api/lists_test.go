package api_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/cartd/cartd/auth"
)

// listsContract drives every list and the release of a cart's reservations through the
// OpenAPI check (TestOpenAPIContract), on data of its own.
func listsContract(run func(name string, fn func(t *testing.T)), call callFunc, admin string) {
	run("lists answer pages and refuse bad parameters", func(t *testing.T) {
		custToken := call(t, 201, "POST", "/v1/customers/cust_lists/tokens", admin, nil).JSON(t)["token"].(string)
		call(t, 200, "PUT", "/v1/products/prod_listed", admin, map[string]any{"name": "Listed lamp",
			"variants": []any{map[string]any{"id": "var_listed", "sku": "LISTED-1", "price": map[string]any{"USD": 1500}}}})
		call(t, 200, "PUT", "/v1/inventory/LISTED-1", admin, map[string]any{"on_hand": 4})
		c := call(t, 201, "POST", "/v1/carts", custToken, map[string]any{}).JSON(t)["id"].(string)
		call(t, 200, "POST", "/v1/carts/"+c+"/items", custToken, map[string]any{"sku": "LISTED-1", "quantity": 3})
		call(t, 200, "PUT", "/v1/sales/sale_listed", admin, map[string]any{"name": "Listed", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"})

		call(t, 200, "GET", "/v1/carts?limit=1", admin, nil)
		call(t, 200, "GET", "/v1/carts?status=active&has_items=true&updated_after=2020-01-01T00:00:00Z", admin, nil)
		call(t, 200, "GET", "/v1/carts", custToken, nil)
		call(t, 200, "GET", "/v1/carts?starting_after="+c+"&customer_id=", admin, nil)
		wantProblem(t, call(t, 422, "GET", "/v1/carts?limit=501", admin, nil), "invalid_parameter")
		wantProblem(t, call(t, 422, "GET", "/v1/carts?customer=x", admin, nil), "invalid_parameter")
		wantProblem(t, call(t, 422, "GET", "/v1/carts?status=open", admin, nil), "invalid_status")

		call(t, 200, "GET", "/v1/products?q=LISTED", admin, nil)
		call(t, 200, "GET", "/v1/products?starting_after=prod_listed&limit=2", admin, nil)
		wantProblem(t, call(t, 422, "GET", "/v1/products?starting_after=prod_never", admin, nil), "unknown_cursor")

		call(t, 200, "GET", "/v1/inventory?sku_prefix=LISTED&low_stock=1", admin, nil)
		call(t, 200, "GET", "/v1/inventory?starting_after=A", admin, nil)
		wantProblem(t, call(t, 422, "GET", "/v1/inventory?low_stock=-1", admin, nil), "invalid_parameter")

		r := call(t, 200, "GET", "/v1/inventory/LISTED-1/reservations", admin, nil)
		if data := r.JSON(t)["data"].([]any); len(data) != 1 || data[0].(map[string]any)["cart_id"] != c {
			t.Fatalf("holders of LISTED-1: %s", r.Body)
		}
		wantProblem(t, call(t, 422, "GET", "/v1/inventory/LISTED-1/reservations?starting_after=cart_1", admin, nil), "invalid_parameter")

		call(t, 200, "GET", "/v1/promotions?limit=500", admin, nil)
		wantProblem(t, call(t, 422, "GET", "/v1/promotions?limit=0", admin, nil), "invalid_parameter")
		call(t, 200, "GET", "/v1/sales", admin, nil)
		wantProblem(t, call(t, 422, "GET", "/v1/sales?starting_after=sale_never", admin, nil), "unknown_cursor")
	})

	run("an operator releases a cart's reservations", func(t *testing.T) {
		c := call(t, 201, "POST", "/v1/carts", admin, map[string]any{}).JSON(t)["id"].(string)
		r := call(t, 200, "POST", "/v1/carts/"+c+"/items", admin, map[string]any{"sku": "LISTED-1", "quantity": 1})
		release := "/v1/carts/" + c + "/reservations/release"
		r = call(t, 200, "POST", release, admin, nil, "If-Match", r.Header.Get("ETag"))
		wantMessage(t, r, "reservations_released")
		if cj := r.JSON(t); cj["expired"] != 1.0 {
			t.Fatalf("after the release: %s", r.Body)
		}
		call(t, 200, "POST", release, admin, map[string]any{})
		wantProblem(t, call(t, 404, "POST", "/v1/carts/cart_999999/reservations/release", admin, nil), "cart_not_found")
		wantProblem(t, call(t, 422, "POST", release, admin, nil, "Idempotency-Key", fmt.Sprintf("%0300d", 0)), "invalid_idempotency_key")
		into := call(t, 201, "POST", "/v1/carts", admin, map[string]any{}).JSON(t)["id"].(string)
		call(t, 200, "POST", "/v1/carts/"+c+"/merge", admin, map[string]any{"into": into})
		wantProblem(t, call(t, 409, "POST", release, admin, nil), "cart_not_active")
	})
}

// pageThrough reads every page of a list, limit entries at a time, and returns the entries'
// keys in order.
func pageThrough(t *testing.T, ts *testServer, credential, path, key string, limit int) []string {
	t.Helper()
	var keys []string
	after := ""
	for range 100 {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if after != "" {
			q.Set("starting_after", after)
		}
		sep := "?"
		if u, _ := url.Parse(path); u.RawQuery != "" {
			sep = "&"
		}
		page := ts.do(t, "GET", path+sep+q.Encode(), credential, nil).mustStatus(t, 200).JSON(t)
		data := page["data"].([]any)
		if len(data) > limit {
			t.Fatalf("%s: %d entries for limit %d", path, len(data), limit)
		}
		for _, d := range data {
			keys = append(keys, d.(map[string]any)[key].(string))
		}
		if page["has_more"] != true {
			return keys
		}
		if len(data) == 0 {
			t.Fatalf("%s: an empty page says has_more", path)
		}
		after = keys[len(keys)-1]
	}
	t.Fatalf("%s: more than 100 pages", path)
	return nil
}

func TestLists(t *testing.T) {
	ts := mustServer(t)
	ts.mustProduct(t, "prod_a", 1000, 10, "A-1", "A-2")
	ts.mustProduct(t, "prod_b", 1000, 3, "B-1")
	tok := func(customer string) string {
		return ts.do(t, "POST", "/v1/customers/"+customer+"/tokens", ts.Admin, nil).mustStatus(t, 201).JSON(t)["token"].(string)
	}
	alice, bob := tok("alice"), tok("bob")
	newCart := func(credential string) string {
		return ts.do(t, "POST", "/v1/carts", credential, map[string]any{}).mustStatus(t, 201).JSON(t)["id"].(string)
	}
	// Carts in creation order: alice's two, bob's, two guests'.
	var carts []string
	for _, cred := range []string{alice, alice, bob, ts.Admin, ts.Admin} {
		carts = append(carts, newCart(cred))
	}
	ts.do(t, "POST", "/v1/carts/"+carts[0]+"/items", alice, map[string]any{"sku": "B-1", "quantity": 2}).mustStatus(t, 200)
	ts.do(t, "POST", "/v1/carts/"+carts[2]+"/items", bob, map[string]any{"sku": "B-1", "quantity": 1}).mustStatus(t, 200)
	ts.do(t, "POST", "/v1/carts/"+carts[3]+"/items", ts.Admin, map[string]any{"sku": "A-1", "quantity": 4}).mustStatus(t, 200)
	newestFirst := slices.Clone(carts)
	slices.Reverse(newestFirst)

	t.Run("paging through carts two at a time finds each once, newest first", func(t *testing.T) {
		if got := pageThrough(t, ts, ts.Admin, "/v1/carts", "id", 2); !slices.Equal(got, newestFirst) {
			t.Fatalf("carts %v, want %v", got, newestFirst)
		}
		if got := pageThrough(t, ts, ts.Admin, "/v1/carts", "id", 500); !slices.Equal(got, newestFirst) {
			t.Fatalf("carts in one page %v, want %v", got, newestFirst)
		}
	})

	t.Run("a customer token lists its own carts and never another's", func(t *testing.T) {
		cases := []struct {
			credential, path string
			want             []string
		}{
			{alice, "/v1/carts", []string{carts[1], carts[0]}},
			{bob, "/v1/carts", []string{carts[2]}},
			{alice, "/v1/carts?customer_id=bob", nil},
			{alice, "/v1/carts?customer_id=", nil},
			{alice, "/v1/carts?customer_id=alice&has_items=true", []string{carts[0]}},
			{ts.Admin, "/v1/carts?customer_id=bob", []string{carts[2]}},
			{ts.Admin, "/v1/carts?customer_id=", []string{carts[4], carts[3]}},
			{ts.Admin, "/v1/carts?has_items=false", []string{carts[4], carts[1]}},
		}
		for _, tc := range cases {
			if got := pageThrough(t, ts, tc.credential, tc.path, "id", 1); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.path, got, tc.want)
			}
		}
	})

	t.Run("a cart summary counts lines and units", func(t *testing.T) {
		d := ts.do(t, "GET", "/v1/carts?limit=1&customer_id=bob", ts.Admin, nil).mustStatus(t, 200).JSON(t)["data"].([]any)[0].(map[string]any)
		if d["object"] != "cart_summary" || d["customer_id"] != "bob" || d["item_count"] != 1.0 || d["unique_item_count"] != 1.0 || d["status"] != "active" {
			t.Fatalf("bob's cart summary: %v", d)
		}
	})

	t.Run("the holders of a SKU are listed with their customers", func(t *testing.T) {
		r := ts.do(t, "GET", "/v1/inventory/B-1/reservations", ts.Admin, nil).mustStatus(t, 200).JSON(t)
		data := r["data"].([]any)
		if len(data) != 2 {
			t.Fatalf("holders of B-1: %v", r)
		}
		h := data[0].(map[string]any)
		if h["cart_id"] != carts[2] || h["customer_id"] != "bob" || h["reserved_quantity"] != 1.0 || h["reserved_until"] == nil || h["expired"] != false {
			t.Fatalf("newest holder of B-1: %v", h)
		}
		if got := pageThrough(t, ts, ts.Admin, "/v1/inventory/B-1/reservations", "item_id", 1); len(got) != 2 {
			t.Fatalf("paging through the holders of B-1: %v", got)
		}
		catalogOnly := ts.mustKey(t, auth.CatalogRead)
		wantProblem(t, ts.do(t, "GET", "/v1/inventory/B-1/reservations", catalogOnly, nil).mustStatus(t, 403), "missing_scope")
	})

	t.Run("stock is listed by SKU and found when low", func(t *testing.T) {
		cases := []struct {
			path string
			want []string
		}{
			{"/v1/inventory", []string{"A-1", "A-2", "B-1"}},
			{"/v1/inventory?sku_prefix=A-", []string{"A-1", "A-2"}},
			{"/v1/inventory?low_stock=0", []string{"B-1"}}, // 3 on hand, 3 held
			{"/v1/inventory?low_stock=6", []string{"A-1", "B-1"}},
		}
		for _, tc := range cases {
			if got := pageThrough(t, ts, ts.Admin, tc.path, "sku", 1); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.path, got, tc.want)
			}
		}
	})

	t.Run("products are found by id, name or SKU prefix", func(t *testing.T) {
		cases := []struct {
			q    string
			want []string
		}{
			{"", []string{"prod_b", "prod_a"}},
			{"prod_a", []string{"prod_a"}},
			{"product prod_b", []string{"prod_b"}},
			{"A-2", []string{"prod_a"}},
			{"nothing", nil},
		}
		for _, tc := range cases {
			if got := pageThrough(t, ts, ts.Admin, "/v1/products?q="+url.QueryEscape(tc.q), "id", 1); !slices.Equal(got, tc.want) {
				t.Errorf("q=%q: %v, want %v", tc.q, got, tc.want)
			}
		}
		wantProblem(t, ts.do(t, "GET", "/v1/products", alice, nil).mustStatus(t, 403), "missing_scope")
	})

	t.Run("releasing a cart's reservations gives its stock back, once, with If-Match", func(t *testing.T) {
		release := "/v1/carts/" + carts[3] + "/reservations/release"
		wantProblem(t, ts.do(t, "POST", release, ts.mustKey(t, auth.CartsWrite), nil).mustStatus(t, 403), "missing_scope")
		wantProblem(t, ts.do(t, "POST", release, ts.Admin, nil, "If-Match", `"1"`).mustStatus(t, 412), "version_mismatch")
		before := ts.do(t, "GET", "/v1/carts/"+carts[3], ts.Admin, nil).mustStatus(t, 200)
		r := ts.do(t, "POST", release, ts.Admin, nil, "If-Match", before.Header.Get("ETag")).mustStatus(t, 200)
		c := r.JSON(t)
		item := c["items"].([]any)[0].(map[string]any)
		if c["expired"] != 4.0 || item["expired"] != true || c["version"].(float64) != before.JSON(t)["version"].(float64)+1 {
			t.Fatalf("released cart: %s", r.Body)
		}
		st := ts.do(t, "GET", "/v1/inventory/A-1", ts.Admin, nil).mustStatus(t, 200).JSON(t)
		if st["reserved"] != 0.0 || st["available"] != 10.0 {
			t.Fatalf("A-1 after the release: %v", st)
		}
		if got := pageThrough(t, ts, ts.Admin, "/v1/inventory/A-1/reservations", "item_id", 10); len(got) != 0 {
			t.Fatalf("holders of A-1 after the release: %v", got)
		}
		again := ts.do(t, "POST", release, ts.Admin, nil).mustStatus(t, 200).JSON(t)
		if again["version"] != c["version"] {
			t.Fatalf("a second release changed the cart: version %v, then %v", c["version"], again["version"])
		}
	})

	t.Run("a promotion is withdrawn only at the version read", func(t *testing.T) {
		put := ts.do(t, "PUT", "/v1/promotions/TENOFF", ts.Admin, map[string]any{"type": "percent", "rate": 1000}).mustStatus(t, 200)
		read := ts.do(t, "GET", "/v1/promotions/TENOFF", ts.Admin, nil).mustStatus(t, 200)
		if read.Header.Get("ETag") == "" || read.Header.Get("ETag") != put.Header.Get("ETag") {
			t.Fatalf("ETags of PUT %q and GET %q", put.Header.Get("ETag"), read.Header.Get("ETag"))
		}
		ts.do(t, "PUT", "/v1/promotions/TENOFF", ts.Admin, map[string]any{"type": "percent", "rate": 2000}).mustStatus(t, 200)
		wantProblem(t, ts.do(t, "DELETE", "/v1/promotions/TENOFF", ts.Admin, nil, "If-Match", read.Header.Get("ETag")).mustStatus(t, 412), "version_mismatch")
		if got := pageThrough(t, ts, ts.Admin, "/v1/promotions", "code", 1); !slices.Equal(got, []string{"TENOFF"}) {
			t.Fatalf("promotions after a refused withdrawal: %v", got)
		}
		now := ts.do(t, "GET", "/v1/promotions/TENOFF", ts.Admin, nil).mustStatus(t, 200)
		ts.do(t, "DELETE", "/v1/promotions/TENOFF", ts.Admin, nil, "If-Match", now.Header.Get("ETag")).mustStatus(t, 204)
		if got := pageThrough(t, ts, ts.Admin, "/v1/promotions", "code", 1); len(got) != 0 {
			t.Fatalf("promotions after the withdrawal: %v", got)
		}
	})
}

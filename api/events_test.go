package api_test

import (
	"strings"
	"testing"

	"github.com/cartd/cartd/auth"
)

// eventsContract drives the feed, webhooks and deliveries through every documented answer.
func eventsContract(run func(name string, fn func(t *testing.T)), c *contract, ts *testServer, call func(t *testing.T, want int, method, path, credential string, body any, headers ...string) response) {
	admin := ts.Admin
	var reader string
	run("the feed is read page by page, and refuses bad cursors", func(t *testing.T) {
		reader = ts.mustKey(t, auth.EventsRead)
		cart := call(t, 201, "POST", "/v1/carts", admin, map[string]any{"currency": "USD"}, "Idempotency-Key", "feed-cart").JSON(t)["id"].(string)
		// On PostgreSQL committed events wait for a positioner (each node runs one); here the test
		// is the node.
		if _, err := ts.Engine.PositionEvents(t.Context()); err != nil {
			t.Fatal(err)
		}
		var all []map[string]any
		after := "0"
		for {
			r := call(t, 200, "GET", "/v1/events?limit=2&after="+after, reader, nil).JSON(t)
			for _, ev := range r["data"].([]any) {
				all = append(all, ev.(map[string]any))
			}
			if r["has_more"] != true {
				break
			}
			after = strings.TrimPrefix(all[len(all)-1]["id"].(string), "evt_")
		}
		var created map[string]any
		for i, ev := range all {
			if i > 0 && ev["seq"].(float64) <= all[i-1]["seq"].(float64) {
				t.Fatalf("seq %v after %v", ev["seq"], all[i-1]["seq"])
			}
			if ev["type"] == "cart.created" && ev["cart_id"] == cart {
				created = ev
			}
		}
		if created == nil || created["cart_version"] != 1.0 || created["idempotency_key"] != "feed-cart" {
			t.Fatalf("cart.created of %s: %v", cart, created)
		}
		wantProblem(t, call(t, 422, "GET", "/v1/events?limit=501", reader, nil), "invalid_limit")
		wantProblem(t, call(t, 422, "GET", "/v1/events?limit=0", reader, nil), "invalid_limit")
		call(t, 200, "GET", "/v1/events?after=evt_1", admin, nil)
	})

	run("the feed of one cart is its timeline, page by page, and refuses what is not a cart id", func(t *testing.T) {
		call(t, 200, "PUT", "/v1/products/prod_timeline", admin, map[string]any{"name": "Timeline",
			"variants": []any{map[string]any{"id": "var_timeline", "sku": "TIMELINE-1", "price": map[string]any{"USD": 1500}}}})
		call(t, 200, "PUT", "/v1/inventory/TIMELINE-1", admin, map[string]any{"on_hand": 10})
		tl := call(t, 201, "POST", "/v1/carts", admin, map[string]any{"currency": "USD"}).JSON(t)["id"].(string)
		other := call(t, 201, "POST", "/v1/carts", admin, map[string]any{"currency": "USD"}).JSON(t)["id"].(string)
		item := call(t, 200, "POST", "/v1/carts/"+tl+"/items", admin, map[string]any{"sku": "TIMELINE-1", "quantity": 1}).JSON(t)["items"].([]any)[0].(map[string]any)["id"].(string)
		call(t, 200, "POST", "/v1/carts/"+other+"/items", admin, map[string]any{"sku": "TIMELINE-1", "quantity": 1})
		call(t, 200, "PATCH", "/v1/carts/"+tl+"/items/"+item, admin, map[string]any{"quantity": 3}, "Idempotency-Key", "timeline-3")
		if _, err := ts.Engine.PositionEvents(t.Context()); err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		after := "0"
		for {
			r := call(t, 200, "GET", "/v1/events?cart_id="+tl+"&limit=1&after="+after, reader, nil).JSON(t)
			page := r["data"].([]any)
			if len(page) > 1 {
				t.Fatalf("a page of limit 1 holds %d", len(page))
			}
			for _, ev := range page {
				got = append(got, ev.(map[string]any))
			}
			if r["has_more"] != true {
				break
			}
			after = strings.TrimPrefix(got[len(got)-1]["id"].(string), "evt_")
		}
		var types []string
		for i, ev := range got {
			if ev["cart_id"] != tl {
				t.Fatalf("the timeline of %s holds an event of %v: %v", tl, ev["cart_id"], ev)
			}
			if i > 0 && ev["seq"].(float64) <= got[i-1]["seq"].(float64) {
				t.Fatalf("seq %v after %v", ev["seq"], got[i-1]["seq"])
			}
			types = append(types, ev["type"].(string))
		}
		if want := "cart.created cart.item.added cart.item.quantity_changed"; strings.Join(types, " ") != want {
			t.Fatalf("the timeline of %s: %v, want %s", tl, types, want)
		}
		changed := got[2]
		data := changed["data"].(map[string]any)
		if data["from"] != 1.0 || data["to"] != 3.0 || data["cause"] != "request" || changed["idempotency_key"] != "timeline-3" || changed["cart_version"] != 3.0 {
			t.Fatalf("the quantity change in the timeline: %v", changed)
		}
		// The same events as the feed, read from the first of them.
		first := strings.TrimPrefix(got[0]["id"].(string), "evt_")
		rest := call(t, 200, "GET", "/v1/events?cart_id="+tl+"&after="+first, admin, nil).JSON(t)["data"].([]any)
		if len(rest) != 2 || rest[0].(map[string]any)["id"] != got[1]["id"] {
			t.Fatalf("the timeline after %s: %v", first, rest)
		}
		if r := call(t, 200, "GET", "/v1/events?cart_id=cart_999999999", reader, nil).JSON(t); len(r["data"].([]any)) != 0 || r["has_more"] != false {
			t.Fatalf("the timeline of a cart that never was: %v", r)
		}
		for _, bad := range []string{"cart_0", "cart_", "42", "ci_1", "cart_1x", "cart_99999999999999999999", "", tl + "&cart_id=" + other} {
			wantProblem(t, call(t, 422, "GET", "/v1/events?cart_id="+bad, reader, nil), "invalid_cart_id")
		}
		wantProblem(t, call(t, 422, "GET", "/v1/events?cart_id="+tl+"&limit=0", reader, nil), "invalid_limit")
		// A customer never reads events, not even its own cart's.
		tok := ts.mustToken(t, "cust_timeline")
		own := call(t, 201, "POST", "/v1/carts", tok, map[string]any{"currency": "USD"}).JSON(t)["id"].(string)
		wantProblem(t, call(t, 403, "GET", "/v1/events?cart_id="+own, tok, nil), "missing_scope")
		wantProblem(t, call(t, 403, "GET", "/v1/events?cart_id="+tl, ts.mustKey(t, auth.CartsRead), nil), "missing_scope")
	})

	run("webhooks are created, listed, replaced, refused and deleted", func(t *testing.T) {
		r := call(t, 201, "PUT", "/v1/webhooks/wh_contract", admin, map[string]any{"url": "http://127.0.0.1:9/hook", "types": []string{"cart.*"}})
		if s, _ := r.JSON(t)["secret"].(string); !strings.HasPrefix(s, "whsec_") {
			t.Fatalf("a created webhook shows its generated secret once: %s", r.Body)
		}
		r = call(t, 200, "GET", "/v1/webhooks/wh_contract", admin, nil)
		if _, shown := r.JSON(t)["secret"]; shown {
			t.Fatalf("GET shows the secret: %s", r.Body)
		}
		r = call(t, 200, "PUT", "/v1/webhooks/wh_contract", admin, map[string]any{"url": "http://127.0.0.1:9/hook", "secret": "a-secret-of-sixteen+"})
		if w := r.JSON(t); w["secret"] != nil || w["secret_rotation_ends_at"] == nil || len(w["types"].([]any)) != 1 {
			t.Fatalf("a secret replaced starts a rotation and keeps the types: %s", r.Body)
		}
		call(t, 201, "PUT", "/v1/webhooks/wh_other", admin, map[string]any{"url": "https://example.com/h", "secret": "another-secret-1234", "active": false})
		page := call(t, 200, "GET", "/v1/webhooks?limit=1", admin, nil).JSON(t)
		if page["has_more"] != true || page["data"].([]any)[0].(map[string]any)["id"] != "wh_contract" {
			t.Fatalf("first page: %v", page)
		}
		page = call(t, 200, "GET", "/v1/webhooks?starting_after=wh_contract", admin, nil).JSON(t)
		if page["has_more"] != false || page["data"].([]any)[0].(map[string]any)["id"] != "wh_other" {
			t.Fatalf("second page: %v", page)
		}
		wantProblem(t, call(t, 422, "GET", "/v1/webhooks?limit=x", admin, nil), "invalid_limit")
		for _, bad := range []struct {
			body any
			code string
		}{
			{map[string]any{"url": "ftp://example.com/x"}, "invalid_url"},
			{map[string]any{"url": "/relative"}, "invalid_url"},
			{map[string]any{"url": "http://example.com", "types": []string{"cart.nope"}}, "unknown_event_type"},
			{map[string]any{"url": "http://example.com", "types": []string{"order.*"}}, "unknown_event_type"},
			{map[string]any{"url": "http://example.com", "secret": strings.Repeat("s", 257)}, "invalid_secret"},
			{map[string]any{"url": "http://example.com", "secret": "short"}, "invalid_secret"},
			{map[string]any{"secret": "a-secret-of-sixteen+"}, "missing_field"},
		} {
			wantProblem(t, call(t, 422, "PUT", "/v1/webhooks/wh_bad", admin, bad.body), bad.code)
		}
		wantProblem(t, call(t, 404, "GET", "/v1/webhooks/wh_bad", admin, nil), "webhook_not_found")
		call(t, 204, "DELETE", "/v1/webhooks/wh_other", admin, nil)
		wantProblem(t, call(t, 404, "DELETE", "/v1/webhooks/wh_other", admin, nil), "webhook_not_found")
	})

	run("deliveries are listed and sent again", func(t *testing.T) {
		call(t, 201, "POST", "/v1/carts", admin, map[string]any{"currency": "USD"})
		if _, err := ts.Engine.PositionEvents(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ts.Engine.FanOut(t.Context()); err != nil {
			t.Fatal(err)
		}
		r := call(t, 200, "GET", "/v1/webhooks/wh_contract/deliveries?status=pending&limit=1", admin, nil).JSON(t)
		ds := r["data"].([]any)
		if len(ds) != 1 {
			t.Fatalf("pending deliveries: %v", r)
		}
		d := ds[0].(map[string]any)
		ev := d["event"].(map[string]any)
		if !strings.HasPrefix(ev["type"].(string), "cart.") || d["event_id"] != ev["id"] {
			t.Fatalf("a delivery of a webhook subscribed to cart.*: %v", d)
		}
		r = call(t, 200, "POST", "/v1/webhooks/wh_contract/deliveries/"+ev["id"].(string)+"/retry", admin, nil).JSON(t)
		if r["status"] != "pending" || r["attempts"] != 0.0 {
			t.Fatalf("retried: %v", r)
		}
		wantProblem(t, call(t, 404, "POST", "/v1/webhooks/wh_contract/deliveries/evt_999999/retry", admin, nil), "delivery_not_found")
		wantProblem(t, call(t, 404, "POST", "/v1/webhooks/wh_contract/deliveries/nope/retry", admin, nil), "delivery_not_found")
		wantProblem(t, call(t, 404, "GET", "/v1/webhooks/wh_nope/deliveries", admin, nil), "webhook_not_found")
		wantProblem(t, call(t, 422, "GET", "/v1/webhooks/wh_contract/deliveries?status=lost", admin, nil), "invalid_status")
	})
}

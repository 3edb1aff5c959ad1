package api_test

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// minimalBody is the answer to a mutating call made with Prefer: return=minimal.
type minimalBody struct {
	ID               string        `json:"id"`
	Object           string        `json:"object"`
	Version          int64         `json:"version"`
	Items            []itemBody    `json:"items"`
	UnavailableItems []itemBody    `json:"unavailable_items"`
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
	Coupons          []couponBody  `json:"coupons"`
	Messages         []messageBody `json:"messages"`
}

// checkMinimal holds a minimal cart response to what it can be checked against on its own: it
// is marked Preference-Applied, holds only the minimal members, its ETag is its version and
// each item's figures add up. Its totals are the whole cart's; minimalAgrees checks those.
func checkMinimal(tb testing.TB, what string, r response) {
	tb.Helper()
	if got := r.Header.Get("Preference-Applied"); got != "return=minimal" {
		tb.Errorf("%s: Preference-Applied = %q, want return=minimal", what, got)
	}
	var members map[string]json.RawMessage
	var m minimalBody
	if err := json.Unmarshal(r.Body, &members); err != nil {
		tb.Fatalf("%s: not a minimal cart: %v\n%s", what, err, r.Body)
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatalf("%s: not a minimal cart: %v\n%s", what, err, r.Body)
	}
	want := []string{"id", "object", "version", "items", "unavailable_items", "removed_item_ids", "item_count", "unique_item_count",
		"expired", "subtotal", "discount", "tax", "shipping", "total", "retail_total", "saved", "prices_include_tax", "coupons", "messages"}
	if got := slices.Sorted(maps.Keys(members)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		tb.Errorf("%s: a minimal cart has members %v, want %v", what, got, want)
	}
	if got, want := r.Header.Get("ETag"), strconv.Quote(strconv.FormatInt(m.Version, 10)); got != want {
		tb.Errorf("%s: ETag = %s, want %s (the cart's version)", what, got, want)
	}
	if m.Items == nil || m.UnavailableItems == nil || m.RemovedItemIDs == nil || m.Messages == nil {
		tb.Errorf("%s: a list is null, want [] when empty: %s", what, r.Body)
	}
	for _, it := range m.Items {
		tax := it.Tax
		if m.PricesIncludeTax {
			tax = 0
		}
		if it.Subtotal != it.UnitPrice*it.Quantity || it.Total != it.Subtotal-it.Discount+tax {
			tb.Errorf("%s: item %s subtotal %d total %d, want %d x %d and that - %d + %d", what, it.ID, it.Subtotal, it.Total,
				it.UnitPrice, it.Quantity, it.Discount, it.Tax)
		}
	}
	for _, it := range slices.Concat(m.Items, m.UnavailableItems) {
		if slices.Contains(m.RemovedItemIDs, it.ID) {
			tb.Errorf("%s: item %s is both changed and removed", what, it.ID)
		}
	}
}

// mustMinimal sends a mutating call preferring return=minimal, checks its answer against a
// GET of the cart right after, and returns it.
func (s *testServer) mustMinimal(tb testing.TB, status int, method, path string, body any) minimalBody {
	tb.Helper()
	r := s.mustCall(tb, status, method, path, s.Admin, body, "Prefer", "return=minimal")
	var m minimalBody
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatal(err)
	}
	s.minimalAgrees(tb, m, r.Body)
	return m
}

// rawItems returns a cart response's items and unavailable items as sent, by id.
func rawItems(tb testing.TB, body []byte) map[string]string {
	tb.Helper()
	var c struct {
		Items            []json.RawMessage `json:"items"`
		UnavailableItems []json.RawMessage `json:"unavailable_items"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for _, raw := range slices.Concat(c.Items, c.UnavailableItems) {
		var id struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &id); err != nil {
			tb.Fatal(err)
		}
		out[id.ID] = string(raw)
	}
	return out
}

// minimalAgrees fails unless a minimal answer agrees with a GET of the cart right after it:
// the same version and totals, its items exactly as the GET shows them, its removed items gone.
func (s *testServer) minimalAgrees(tb testing.TB, m minimalBody, raw []byte) {
	tb.Helper()
	r := s.mustCall(tb, 200, "GET", "/v1/carts/"+m.ID, s.Admin, nil)
	c := cartOf(tb, r)
	figures := []struct {
		name      string
		got, want int64
	}{
		{"version", m.Version, c.Version}, {"item_count", m.ItemCount, c.ItemCount},
		{"unique_item_count", m.UniqueItemCount, c.UniqueItemCount}, {"expired", m.Expired, c.Expired},
		{"subtotal", m.Subtotal, c.Subtotal}, {"discount", m.Discount, c.Discount}, {"tax", m.Tax, c.Tax},
		{"shipping", m.Shipping, c.Shipping}, {"total", m.Total, c.Total}, {"retail_total", m.RetailTotal, c.RetailTotal},
		{"saved", m.Saved, c.Saved},
	}
	for _, f := range figures {
		if f.got != f.want {
			tb.Errorf("minimal %s = %d, GET says %d", f.name, f.got, f.want)
		}
	}
	if !reflect.DeepEqual(m.Coupons, c.Coupons) || m.PricesIncludeTax != c.PricesIncludeTax {
		tb.Errorf("minimal coupons %+v (prices_include_tax %v), GET says %+v (%v)", m.Coupons, m.PricesIncludeTax, c.Coupons, c.PricesIncludeTax)
	}
	got, want := rawItems(tb, raw), rawItems(tb, r.Body)
	for id, item := range got {
		if want[id] != item {
			tb.Errorf("minimal item %s:\n%s\nGET shows:\n%s", id, item, want[id])
		}
	}
	for _, id := range m.RemovedItemIDs {
		if _, ok := want[id]; ok {
			tb.Errorf("item %s is reported removed but GET still shows it", id)
		}
	}
}

// messageCodesOf lists messages as "code item_id".
func messageCodesOf(msgs []messageBody) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Code+" "+m.ItemID)
	}
	return out
}

func itemIDs(items []itemBody) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func TestPreferMinimal(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 1000, 100, "A")
	s.mustProduct(t, "prod_b", 250, 100, "B")
	s.mustProduct(t, "prod_c", 333, 100, "C")
	s.putSettings(t, map[string]any{"shipping": map[string]any{"USD": map[string]int64{"flat": 500, "free_over": 5000}}})

	var id, a, b, c string

	t.Run("a new cart answers 201 with its id, version and zero totals", func(t *testing.T) {
		r := s.mustCall(t, 201, "POST", "/v1/carts", s.Admin, map[string]any{"currency": "USD"}, "Prefer", "return=minimal")
		var m minimalBody
		json.Unmarshal(r.Body, &m)
		s.minimalAgrees(t, m, r.Body)
		id = m.ID
		if m.Version != 1 || len(m.Items) != 0 || len(m.RemovedItemIDs) != 0 || m.Total != 0 || r.Header.Get("Location") != "/v1/carts/"+id {
			t.Fatalf("new cart = %s (Location %q)", r.Body, r.Header.Get("Location"))
		}
		b = s.mustAdd(t, id, "B", 2)
	})

	t.Run("an add answers the added line only, with the cart's totals", func(t *testing.T) {
		m := s.mustMinimal(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "A", "quantity": 2})
		if len(m.Items) != 1 || m.Items[0].SKU != "A" || m.Items[0].Quantity != 2 {
			t.Fatalf("items = %+v, want the A line only", m.Items)
		}
		a = m.Items[0].ID
		if m.ItemCount != 4 || m.UniqueItemCount != 2 || m.Subtotal != 2500 || m.Shipping != 500 {
			t.Errorf("totals = %+v, want the whole cart's", m)
		}
		if got := messageCodesOf(m.Messages); !slices.Equal(got, []string{"item_added " + a}) {
			t.Errorf("messages = %v", got)
		}
	})

	t.Run("PUT and PATCH of an item answer that item", func(t *testing.T) {
		m := s.mustMinimal(t, 200, "PUT", "/v1/carts/"+id+"/items/"+a, map[string]any{"quantity": 3, "notes": "n"})
		if !slices.Equal(itemIDs(m.Items), []string{a}) || m.Items[0].Quantity != 3 || m.Items[0].Notes != "n" {
			t.Errorf("items = %+v", m.Items)
		}
		m = s.mustMinimal(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+a, map[string]any{"quantity_delta": 2})
		if !slices.Equal(itemIDs(m.Items), []string{a}) || m.Items[0].Quantity != 5 || m.Shipping != 0 {
			t.Errorf("items = %+v, shipping %d (5250 is over the free threshold)", m.Items, m.Shipping)
		}
		if got := messageCodesOf(m.Messages); !slices.Equal(got, []string{"quantity_updated " + a}) {
			t.Errorf("messages = %v", got)
		}
	})

	t.Run("a batch answers the lines it changed and created and the ids it removed", func(t *testing.T) {
		m := s.mustMinimal(t, 200, "PATCH", "/v1/carts/"+id+"/items", map[string]any{"changes": []any{
			map[string]any{"item_id": a, "quantity": 1},
			map[string]any{"sku": "C", "quantity": 2},
			map[string]any{"item_id": b, "quantity": 0},
		}})
		if len(m.Items) != 2 || m.Items[0].ID != a || m.Items[1].SKU != "C" {
			t.Fatalf("items = %+v, want A and the new C line", m.Items)
		}
		c = m.Items[1].ID
		if !slices.Equal(m.RemovedItemIDs, []string{b}) {
			t.Errorf("removed_item_ids = %v, want [%s]", m.RemovedItemIDs, b)
		}
		want := []string{"quantity_updated " + a, "item_added " + c, "item_removed " + b}
		if got := messageCodesOf(m.Messages); !slices.Equal(got, want) {
			t.Errorf("messages = %v, want %v", got, want)
		}
	})

	t.Run("a line created and removed by one batch is in neither list", func(t *testing.T) {
		m := s.mustMinimal(t, 200, "PATCH", "/v1/carts/"+id+"/items", map[string]any{"changes": []any{
			map[string]any{"sku": "B", "quantity": 2},
			map[string]any{"sku": "B", "quantity_delta": -2},
		}})
		if len(m.Items) != 0 || len(m.RemovedItemIDs) != 0 {
			t.Errorf("items %v, removed %v; want neither", itemIDs(m.Items), m.RemovedItemIDs)
		}
	})

	t.Run("DELETE of an item answers its id as removed", func(t *testing.T) {
		m := s.mustMinimal(t, 200, "DELETE", "/v1/carts/"+id+"/items/"+c, nil)
		if len(m.Items) != 0 || !slices.Equal(m.RemovedItemIDs, []string{c}) {
			t.Errorf("items %v, removed %v", itemIDs(m.Items), m.RemovedItemIDs)
		}
	})

	t.Run("emptying the cart answers every removed id and zero totals", func(t *testing.T) {
		s.mustAdd(t, id, "B", 1)
		before := s.getCart(t, id)
		m := s.mustMinimal(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
		slices.Sort(m.RemovedItemIDs)
		want := itemIDs(before.Items)
		slices.Sort(want)
		if !slices.Equal(m.RemovedItemIDs, want) || m.Total != 0 || m.ItemCount != 0 {
			t.Errorf("removed %v (want %v), total %d", m.RemovedItemIDs, want, m.Total)
		}
	})

	t.Run("return=representation, or none, answers the whole cart", func(t *testing.T) {
		for _, prefer := range []string{"return=representation", "", "respond-async", "return=everything"} {
			r := s.mustCall(t, 200, "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "A"}, "Prefer", prefer)
			if r.Header.Get("Preference-Applied") != "" {
				t.Errorf("Prefer %q: Preference-Applied %q", prefer, r.Header.Get("Preference-Applied"))
			}
			if c := cartOf(t, r); c.Status != "active" || len(c.Items) == 0 {
				t.Errorf("Prefer %q: not the whole cart: %s", prefer, r.Body)
			}
		}
	})

	t.Run("the preference is found among others, in any case, and the first return counts", func(t *testing.T) {
		for _, prefer := range []string{"RETURN=Minimal", "respond-async, return=minimal; foo=bar", `handling=lenient,return="minimal"`,
			"wait=10, return = minimal", "return=minimal, return=representation"} {
			r := s.mustCall(t, 200, "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "A"}, "Prefer", prefer)
			if r.Header.Get("Preference-Applied") != "return=minimal" {
				t.Errorf("Prefer %q: answered the whole cart", prefer)
			}
		}
		r := s.mustCall(t, 200, "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "A"}, "Prefer", "return=representation, return=minimal")
		if r.Header.Get("Preference-Applied") != "" {
			t.Errorf("the second of two return preferences was applied")
		}
	})

	t.Run("a rejected call still answers a problem with the whole cart", func(t *testing.T) {
		a := s.getCart(t, id).item("A").ID
		p := s.mustReject(t, id, []string{"A"}, 409, "insufficient_stock", "PATCH", "/v1/carts/"+id+"/items/"+a, s.Admin,
			map[string]any{"quantity": 500}, "Prefer", "return=minimal")
		if p.Cart == nil || p.Cart.Status != "active" {
			t.Errorf("problem cart = %+v", p.Cart)
		}
	})
}

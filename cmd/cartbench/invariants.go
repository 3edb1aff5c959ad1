package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// The invariant check runs after a scenario's load has stopped: it reads back every cart the
// scenario created and the stock of every SKU it used, through the same API, and holds them
// to ARCHITECTURE.md §Invariants:
//
//  1. no oversell: for every SKU, 0 <= reserved <= on_hand, available = on_hand - reserved,
//     and reserved equals the sum of reserved_quantity over the lines holding it (in items
//     and unavailable_items of every cart; the SKUs are the run's own, so only its carts hold
//     them);
//  3. totals are a recomputation from the items: each counted line's subtotal is unit_price x
//     quantity and its total subtotal - discount (+ tax unless prices include tax); the cart's
//     subtotal, discount and tax are the sums over its counted lines, item_count their units,
//     unique_item_count their number, total = subtotal - discount (+ tax) + shipping,
//     retail_total the sum of max(retail_price, unit_price) x quantity, saved = retail_total -
//     (subtotal - discount).
//
// "Counted" lines are those of items that are not expired: a lapsed reservation leaves its
// line in items with expired: true and out of the totals (docs/stock.md), and the cart's expired
// figure is their units. unavailable_items are out of the totals too. Fields cartd adds later
// are ignored, so the check keeps working as the API grows.

// maxListed bounds the violations a report lists; the count says how many there were.
const maxListed = 20

// snapshot is what the check reads: every cart and stock row at one quiet moment.
type snapshot struct {
	pricesIncludeTax bool
	carts            []cartDoc
	stock            []stockDoc
	// elsewhere, when set, is what the lines of carts not read hold of each SKU, from its
	// reservations list (a working set of prefilled carts: the rest hold the same SKUs).
	elsewhere map[string]int64
}

// invariantReport is the verdict on one scenario's data.
type invariantReport struct {
	OK             bool     `json:"ok"`
	Carts          int      `json:"carts"`
	Lines          int      `json:"lines"`
	SKUs           int      `json:"skus"`
	ViolationCount int      `json:"violation_count"`
	Violations     []string `json:"violations"`
}

// checkInvariants reads back what the scenario created and checks it.
func (r *runner) checkInvariants(ctx context.Context) invariantReport {
	r.created.mu.Lock()
	carts, skus := slices.Clone(r.created.carts), slices.Clone(r.created.skus)
	r.created.mu.Unlock()
	snap, err := r.collect(ctx, carts, skus)
	if err != nil {
		return invariantReport{Carts: len(carts), SKUs: len(skus), ViolationCount: 1,
			Violations: []string{"could not read the data back to check it: " + err.Error()}}
	}
	return reportOn(snap, checkSnapshot(snap))
}

// reportOn sums up the check of snap that found violations.
func reportOn(snap snapshot, violations []string) invariantReport {
	rep := invariantReport{OK: len(violations) == 0, Carts: len(snap.carts), SKUs: len(snap.stock),
		ViolationCount: len(violations), Violations: violations[:min(len(violations), maxListed)]}
	if rep.Violations == nil {
		rep.Violations = []string{}
	}
	for _, c := range snap.carts {
		rep.Lines += len(c.Items) + len(c.UnavailableItems)
	}
	return rep
}

// collect reads the settings, the stock, every cart, and the stock again. Carts and stock are
// read by separate requests, so a write in between (a reservation lapsing, released by
// cartd's sweeper) could make a sound state look broken: when any SKU's stock version moved
// during the reads, they are all read again, a few times at most.
func (r *runner) collect(ctx context.Context, carts, skus []string) (snapshot, error) {
	var s settingsDoc
	if err := r.api.Do(ctx, http.MethodGet, "/v1/settings", nil, &s); err != nil {
		return snapshot{}, err
	}
	for attempt := 0; ; attempt++ {
		before, err := r.readStock(ctx, skus)
		if err != nil {
			return snapshot{}, err
		}
		docs := make([]cartDoc, len(carts))
		err = parallel(ctx, len(carts), r.setupWorkers(), func(ctx context.Context, i int) error {
			return r.api.Do(ctx, http.MethodGet, "/v1/carts/"+carts[i], nil, &docs[i])
		})
		if err != nil {
			return snapshot{}, err
		}
		var elsewhere map[string]int64
		if r.created.holds {
			if elsewhere, err = r.heldElsewhere(ctx, skus, carts); err != nil {
				return snapshot{}, err
			}
		}
		after, err := r.readStock(ctx, skus)
		if err != nil {
			return snapshot{}, err
		}
		if slices.EqualFunc(before, after, func(a, b stockDoc) bool { return a.Version == b.Version }) {
			return snapshot{pricesIncludeTax: s.PricesIncludeTax, carts: docs, stock: after, elsewhere: elsewhere}, nil
		}
		if attempt == 4 {
			return snapshot{}, fmt.Errorf("the stock kept changing while it was read, %d times; is other traffic using these SKUs?", attempt+1)
		}
		select {
		case <-ctx.Done():
			return snapshot{}, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// heldElsewhere sums, per SKU, the reserved_quantity of the lines its reservations list shows
// in carts other than those given.
func (r *runner) heldElsewhere(ctx context.Context, skus, carts []string) (map[string]int64, error) {
	read := make(map[string]bool, len(carts))
	for _, c := range carts {
		read[c] = true
	}
	sums := make([]int64, len(skus))
	err := parallel(ctx, len(skus), r.setupWorkers(), func(ctx context.Context, i int) error {
		after := ""
		for {
			var page struct {
				Data []struct {
					CartID           string `json:"cart_id"`
					ItemID           string `json:"item_id"`
					ReservedQuantity int64  `json:"reserved_quantity"`
				} `json:"data"`
				HasMore bool `json:"has_more"`
			}
			path := "/v1/inventory/" + skus[i] + "/reservations?limit=500"
			if after != "" {
				path += "&starting_after=" + after
			}
			if err := r.api.Do(ctx, http.MethodGet, path, nil, &page); err != nil {
				return err
			}
			for _, h := range page.Data {
				if !read[h.CartID] {
					sums[i] += h.ReservedQuantity
				}
			}
			if !page.HasMore || len(page.Data) == 0 {
				return nil
			}
			after = page.Data[len(page.Data)-1].ItemID
		}
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(skus))
	for i, sku := range skus {
		out[sku] = sums[i]
	}
	return out, nil
}

func (r *runner) readStock(ctx context.Context, skus []string) ([]stockDoc, error) {
	out := make([]stockDoc, len(skus))
	err := parallel(ctx, len(skus), r.setupWorkers(), func(ctx context.Context, i int) error {
		if err := r.api.Do(ctx, http.MethodGet, "/v1/inventory/"+skus[i], nil, &out[i]); err != nil {
			return err
		}
		out[i].SKU = skus[i]
		return nil
	})
	return out, err
}

// checkSnapshot returns every violation of invariants 1 and 3 in snap, as sentences.
func checkSnapshot(snap snapshot) []string {
	var v []string
	held := map[string]int64{}
	for sku, n := range snap.elsewhere {
		held[sku] = n
	}
	for _, c := range snap.carts {
		v = append(v, checkCart(c, snap.pricesIncludeTax)...)
		for _, it := range slices.Concat(c.Items, c.UnavailableItems) {
			held[it.SKU] += it.ReservedQuantity
		}
	}
	for _, st := range snap.stock {
		if st.Reserved < 0 || st.Reserved > st.OnHand {
			v = append(v, fmt.Sprintf("SKU %s: reserved %d is outside 0..on_hand %d (oversold)", st.SKU, st.Reserved, st.OnHand))
		}
		if st.Available != st.OnHand-st.Reserved {
			v = append(v, fmt.Sprintf("SKU %s: available %d, but on_hand %d - reserved %d = %d", st.SKU, st.Available, st.OnHand, st.Reserved, st.OnHand-st.Reserved))
		}
		if st.Reserved != held[st.SKU] {
			v = append(v, fmt.Sprintf("SKU %s: reserved %d, but the carts' lines hold %d", st.SKU, st.Reserved, held[st.SKU]))
		}
	}
	return v
}

// checkCart recomputes one cart's figures from its items.
func checkCart(c cartDoc, pricesIncludeTax bool) []string {
	var v []string
	bad := func(format string, args ...any) {
		v = append(v, fmt.Sprintf("cart %s: ", c.ID)+fmt.Sprintf(format, args...))
	}
	var sub, disc, tax, units, lines, retail, expired int64
	for _, it := range c.Items {
		if it.ReservedQuantity < 0 || it.ReservedQuantity > it.Quantity {
			bad("item %s reserves %d of its quantity %d", it.ID, it.ReservedQuantity, it.Quantity)
		}
		if it.Expired {
			expired += it.Quantity
			continue
		}
		if it.Quantity < 1 {
			bad("item %s has quantity %d", it.ID, it.Quantity)
		}
		if it.Subtotal != it.UnitPrice*it.Quantity {
			bad("item %s subtotal %d, but unit_price %d x quantity %d = %d", it.ID, it.Subtotal, it.UnitPrice, it.Quantity, it.UnitPrice*it.Quantity)
		}
		want := it.Subtotal - it.Discount
		if !pricesIncludeTax {
			want += it.Tax
		}
		if it.Total != want {
			bad("item %s total %d, but its subtotal, discount and tax give %d", it.ID, it.Total, want)
		}
		sub += it.Subtotal
		disc += it.Discount
		tax += it.Tax
		units += it.Quantity
		lines++
		unitRetail := it.UnitPrice
		if it.RetailPrice != nil && *it.RetailPrice > unitRetail {
			unitRetail = *it.RetailPrice
		}
		retail += unitRetail * it.Quantity
	}
	for _, it := range c.UnavailableItems {
		if it.ReservedQuantity < 0 || it.ReservedQuantity > it.Quantity {
			bad("unavailable item %s reserves %d of its quantity %d", it.ID, it.ReservedQuantity, it.Quantity)
		}
	}
	total := sub - disc + c.Shipping
	if !pricesIncludeTax {
		total += tax
	}
	for _, f := range []struct {
		name      string
		got, want int64
	}{
		{"subtotal", c.Subtotal, sub},
		{"discount", c.Discount, disc},
		{"tax", c.Tax, tax},
		{"item_count", c.ItemCount, units},
		{"unique_item_count", c.UniqueItemCount, lines},
		{"expired", c.Expired, expired},
		{"total", c.Total, total},
		{"retail_total", c.RetailTotal, retail},
		{"saved", c.Saved, c.RetailTotal - (c.Subtotal - c.Discount)},
	} {
		if f.got != f.want {
			bad("%s is %d, a recomputation from its items gives %d", f.name, f.got, f.want)
		}
	}
	return v
}

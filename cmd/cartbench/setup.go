package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
)

// variantsPerProduct is the number of sizes of every product cartbench creates: catalogs have
// products of a few variants, and a cart line is priced from its variant and product.
const variantsPerProduct = 4

var sizes = [variantsPerProduct]string{"S", "M", "L", "XL"}

// catalog is the products and stock one scenario creates, named by the run's prefix so that
// runs against one database never touch each other's data.
type catalog struct {
	skus []string
}

// makeCatalog creates products of four variants each until there are n SKUs, each with
// onHand units in stock. Prices are drawn from the seed: about a quarter of the variants
// have a retail (list) price, a quarter a quantity tier, most a tax rate, so re-pricing
// does the work a real catalog asks of it.
func (r *runner) makeCatalog(ctx context.Context, scenario string, n int, onHand int64) (catalog, error) {
	return r.makeCatalogWith(ctx, scenario, n, onHand, r.setupWorkers())
}

// makeCatalogWith is makeCatalog with workers calls in flight.
func (r *runner) makeCatalogWith(ctx context.Context, scenario string, n int, onHand int64, workers int) (catalog, error) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(len(scenario))*7919+uint64(n)))
	products := (n + variantsPerProduct - 1) / variantsPerProduct
	type variantBody struct {
		ID          string              `json:"id"`
		SKU         string              `json:"sku"`
		Options     []map[string]string `json:"options"`
		Price       map[string]int64    `json:"price"`
		RetailPrice map[string]int64    `json:"retail_price,omitempty"`
		Tiers       []map[string]any    `json:"tiers,omitempty"`
		TaxRate     int64               `json:"tax_rate"`
		WeightGrams int64               `json:"weight_grams"`
		Rule        map[string]int64    `json:"quantity_rule,omitempty"`
	}
	type productBody struct {
		Name     string           `json:"name"`
		Brand    string           `json:"brand"`
		Category string           `json:"category"`
		Variants []variantBody    `json:"variants"`
		Rule     map[string]int64 `json:"quantity_rule,omitempty"`
	}
	bodies := make([]productBody, products)
	var skus []string
	for p := range products {
		b := productBody{Name: fmt.Sprintf("Benchmark tee %d", p), Brand: "cartbench", Category: scenario}
		if r.rules {
			// Every quantity a scenario asks for stays allowed, so the rules cost their checks
			// and change no outcome.
			b.Rule = map[string]int64{"min": 1, "max": 500, "increment": 1}
		}
		for v := 0; v < variantsPerProduct && len(skus) < n; v++ {
			sku := fmt.Sprintf("%s-%s-%04d-%s", strings.ToUpper(r.prefix), strings.ToUpper(scenario[:3]), p, sizes[v])
			price := 999 + rng.Int64N(9000)
			vb := variantBody{ID: fmt.Sprintf("var_%s_%s_%d_%s", r.prefix, scenario, p, sizes[v]), SKU: sku,
				Options: []map[string]string{{"name": "size", "value": sizes[v]}},
				Price:   map[string]int64{"USD": price, "EUR": price - price/10}, WeightGrams: 200 + rng.Int64N(300)}
			switch rng.IntN(4) {
			case 0:
				vb.RetailPrice = map[string]int64{"USD": price + price/4}
			case 1:
				vb.Tiers = []map[string]any{{"min_quantity": 5, "price": map[string]int64{"USD": price - price/10}}}
			}
			if rng.IntN(5) > 0 {
				vb.TaxRate = []int64{500, 800, 2000}[rng.IntN(3)]
			}
			if r.rules && v == 0 {
				vb.Rule = map[string]int64{"max": 200, "max_per_customer": 1000}
			}
			b.Variants = append(b.Variants, vb)
			skus = append(skus, sku)
		}
		bodies[p] = b
	}
	err := parallel(ctx, products, workers, func(ctx context.Context, p int) error {
		return r.api.Do(ctx, http.MethodPut, fmt.Sprintf("/v1/products/prod_%s_%s_%d", r.prefix, scenario, p), bodies[p], nil)
	})
	if err != nil {
		return catalog{}, fmt.Errorf("create products: %w", err)
	}
	err = parallel(ctx, len(skus), workers, func(ctx context.Context, i int) error {
		return r.api.Do(ctx, http.MethodPut, "/v1/inventory/"+skus[i], map[string]int64{"on_hand": onHand}, nil)
	})
	if err != nil {
		return catalog{}, fmt.Errorf("stock: %w", err)
	}
	r.track(nil, skus)
	return catalog{skus: skus}, nil
}

// line is one cart line as a shopper knows it.
type line struct {
	id       string
	sku      string
	quantity int64
}

// fill opens a USD cart and puts quantity units of each SKU in it in one batch (a
// 1,000-line cart is one request, not a thousand), and returns its id and lines.
func (r *runner) fill(ctx context.Context, skus []string, quantity int64) (string, []line, error) {
	var c cartDoc
	if err := r.api.Do(ctx, http.MethodPost, "/v1/carts", map[string]any{"currency": "USD",
		"metadata": map[string]string{"cartbench_run": r.prefix}}, &c); err != nil {
		return "", nil, err
	}
	r.track([]string{c.ID}, nil)
	if len(skus) == 0 {
		return c.ID, nil, nil
	}
	changes := make([]map[string]any, len(skus))
	for i, sku := range skus {
		changes[i] = map[string]any{"sku": sku, "quantity": quantity}
	}
	if err := r.api.Do(ctx, http.MethodPatch, "/v1/carts/"+c.ID+"/items", map[string]any{"changes": changes}, &c); err != nil {
		return "", nil, err
	}
	return c.ID, linesOf(c.Items), nil
}

func linesOf(items []itemDoc) []line {
	out := make([]line, 0, len(items))
	for _, it := range items {
		if !it.Expired {
			out = append(out, line{id: it.ID, sku: it.SKU, quantity: it.Quantity})
		}
	}
	return out
}

// fillMany opens n carts in parallel; skusOf(i) names the SKUs of cart i.
func (r *runner) fillMany(ctx context.Context, n int, quantity int64, skusOf func(i int) []string) ([]string, [][]line, error) {
	ids := make([]string, n)
	lines := make([][]line, n)
	err := parallel(ctx, n, r.setupWorkers(), func(ctx context.Context, i int) error {
		var err error
		ids[i], lines[i], err = r.fill(ctx, skusOf(i), quantity)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create carts: %w", err)
	}
	return ids, lines, nil
}

// registry is what a scenario created: the carts and SKUs its invariant check reads back.
type registry struct {
	mu    sync.Mutex
	carts []string
	skus  []string
	// holds says the SKUs are held by carts besides these (a working set of prefilled carts):
	// the check then adds what their reservations lists show in the other carts.
	holds bool
}

func (r *runner) track(carts, skus []string) {
	r.created.mu.Lock()
	defer r.created.mu.Unlock()
	r.created.carts = append(r.created.carts, carts...)
	r.created.skus = append(r.created.skus, skus...)
}

// setupWorkers bounds the concurrency of set-up calls: enough to be quick, few enough not to
// look like the load being measured.
func (r *runner) setupWorkers() int { return max(1, min(r.conns, 16)) }

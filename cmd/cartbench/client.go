package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cartd/cartd/client"
)

// newHTTPClient is the one client every simulated shopper shares, as a storefront's backend
// would: keep-alive on, and enough idle connections per host that each of the conns clients
// keeps its own connection instead of dialling anew (a load generator that re-dials measures
// TCP handshakes, not cartd). Proxies from the environment are ignored: a benchmark must not
// go through one by accident.
func newHTTPClient(conns int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0, // no global cap: the per-host figure governs
		MaxIdleConnsPerHost:   conns + 16,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// waitReady polls GET /readyz until cartd answers 200, so a script may start cartd and
// cartbench back to back.
func waitReady(ctx context.Context, c *client.Client, base string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		err := c.Ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cartd at %s not ready after %s: %w", base, limit, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// parallel runs fn(0..n-1) on at most workers goroutines and returns the first error; after
// an error no new call starts.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return err
	}
	return ctx.Err()
}

// The documents below are the native API's, as cartbench reads them: leniently (fields cartd
// adds later are ignored), and only as far as the load and the invariant check need. The
// cart carries every field cartd renders today so that the ceiling server's body has the
// shape and weight of a real cart.

type cartDoc struct {
	ID               string          `json:"id"`
	Object           string          `json:"object"`
	CustomerID       *string         `json:"customer_id"`
	Status           string          `json:"status"`
	Currency         string          `json:"currency"`
	Version          int64           `json:"version"`
	Items            []itemDoc       `json:"items"`
	UnavailableItems []itemDoc       `json:"unavailable_items"`
	ItemCount        int64           `json:"item_count"`
	UniqueItemCount  int64           `json:"unique_item_count"`
	Expired          int64           `json:"expired"`
	Subtotal         int64           `json:"subtotal"`
	Discount         int64           `json:"discount"`
	Tax              int64           `json:"tax"`
	Shipping         int64           `json:"shipping"`
	Total            int64           `json:"total"`
	RetailTotal      int64           `json:"retail_total"`
	Saved            int64           `json:"saved"`
	Coupons          json.RawMessage `json:"coupons,omitempty"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
	CreatedAt        string          `json:"created_at"`
	UpdatedAt        string          `json:"updated_at"`
	LastActivity     string          `json:"last_activity"`
	Messages         []messageDoc    `json:"messages"`
}

type itemDoc struct {
	ID                string  `json:"id"`
	Object            string  `json:"object"`
	ProductID         string  `json:"product_id"`
	VariantID         string  `json:"variant_id"`
	SKU               string  `json:"sku"`
	ProductName       string  `json:"product_name"`
	VariantName       string  `json:"variant_name,omitempty"`
	Quantity          int64   `json:"quantity"`
	ReservedQuantity  int64   `json:"reserved_quantity"`
	UnitPrice         int64   `json:"unit_price"`
	PriceWhenAdded    int64   `json:"price_when_added"`
	RetailPrice       *int64  `json:"retail_price"`
	Subtotal          int64   `json:"subtotal"`
	Discount          int64   `json:"discount"`
	Tax               int64   `json:"tax"`
	Total             int64   `json:"total"`
	InventoryStatus   string  `json:"inventory_status"`
	AvailableQuantity int64   `json:"available_quantity"`
	ReservedUntil     *string `json:"reserved_until"`
	Expired           bool    `json:"expired"`
	CreatedAt         string  `json:"created_at"`
	UpdatedAt         string  `json:"updated_at"`
}

type messageDoc struct {
	Type   string `json:"type"`
	Code   string `json:"code"`
	ItemID string `json:"item_id,omitempty"`
}

type stockDoc struct {
	SKU       string `json:"sku"`
	OnHand    int64  `json:"on_hand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
	Version   int64  `json:"version"`
}

type settingsDoc struct {
	PricesIncludeTax   bool  `json:"prices_include_tax"`
	MaxQuantityPerItem int64 `json:"max_quantity_per_item"`
	MaxLinesPerCart    int64 `json:"max_lines_per_cart"`
}

// problemDoc is the part of a problem+json body cartbench classifies by.
type problemDoc struct {
	Code string `json:"code"`
}

package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/client"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/sqlite"
)

// mustCartd serves a real native API on a SQLite file, wrapped by wrap (nil for none), and
// returns its URL and an admin key.
func mustCartd(t *testing.T, wrap func(http.Handler) http.Handler) (string, string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cartd.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(st, engine.Config{ReservationTTL: 15 * time.Minute})
	key, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = api.New(eng, api.Config{})
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() { hs.Close(); st.Close() })
	return hs.URL, key
}

func mustCatalog(t *testing.T, c *client.Client, sku string, onHand int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.PutProduct(ctx, client.Product{ID: "prod_" + sku, Name: "Product " + sku,
		Variants: []client.Variant{{ID: "var_" + sku, SKU: sku, Price: map[string]int64{"USD": 1250}}}}); err != nil {
		t.Fatal(err)
	}
	if st, err := c.SetStock(ctx, sku, onHand); err != nil || st.Available != onHand {
		t.Fatalf("SetStock: %+v, %v", st, err)
	}
}

func TestTypedCallsAgainstCartd(t *testing.T) {
	ctx := context.Background()
	url, key := mustCartd(t, nil)
	c := client.New(url, key)
	mustCatalog(t, c, "TEE", 5)

	cart, err := c.CreateCart(ctx, client.NewCart{Currency: "USD"})
	if err != nil || cart.Status != "active" || cart.Currency != "USD" || cart.Version < 1 {
		t.Fatalf("CreateCart: %+v, %v", cart, err)
	}
	cart, err = c.AddItem(ctx, cart.ID, client.NewItem{SKU: "TEE", Quantity: 2})
	if err != nil || len(cart.Items) != 1 || cart.Items[0].Quantity != 2 || cart.Subtotal != 2500 || cart.Items[0].ReservedUntil == nil {
		t.Fatalf("AddItem: %+v, %v", cart, err)
	}
	item := cart.Items[0].ID
	one := int64(1)
	if cart, err = c.UpdateItem(ctx, cart.ID, item, client.ItemChange{QuantityDelta: &one}); err != nil || cart.ItemCount != 3 {
		t.Fatalf("UpdateItem: %+v, %v", cart, err)
	}

	t.Run("a change beyond the stock is an *Error with Code, Available and the cart", func(t *testing.T) {
		ten := int64(10)
		_, err := c.SetItem(ctx, cart.ID, item, client.ItemChange{Quantity: &ten})
		var pe *client.Error
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want *client.Error", err)
		}
		if pe.Status != 409 || pe.Code != "insufficient_stock" || pe.Available == nil || *pe.Available != 5 || pe.Cart == nil || pe.Cart.ItemCount != 3 {
			t.Errorf("problem: %+v (cart %+v)", pe, pe.Cart)
		}
		if client.ErrorCode(err) != "insufficient_stock" {
			t.Errorf("ErrorCode = %q", client.ErrorCode(err))
		}
	})
	t.Run("If-Match of an old version is 412 with the current cart", func(t *testing.T) {
		two := int64(2)
		_, err := c.SetItem(ctx, cart.ID, item, client.ItemChange{Quantity: &two}, client.IfMatch(cart.Version-1))
		var pe *client.Error
		if !errors.As(err, &pe) || pe.Status != 412 || pe.Code != "version_mismatch" || pe.Cart == nil || pe.Cart.Version != cart.Version {
			t.Errorf("err = %v (%+v)", err, pe)
		}
	})
	t.Run("an unknown cart is 404 cart_not_found", func(t *testing.T) {
		if _, err := c.Cart(ctx, "cart_999999"); client.ErrorCode(err) != "cart_not_found" {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a batch and a minimal answer", func(t *testing.T) {
		four := int64(4)
		got, err := c.UpdateItems(ctx, cart.ID, []client.Change{{SKU: "TEE", Quantity: &four}}, client.PreferMinimal())
		if err != nil || got.ItemCount != 4 || len(got.Items) != 1 || got.Items[0].Quantity != 4 {
			t.Errorf("UpdateItems: %+v, %v", got, err)
		}
	})
	t.Run("checkout commits the stock", func(t *testing.T) {
		done, err := c.Checkout(ctx, cart.ID)
		if err != nil || done.Status != "completed" {
			t.Fatalf("Checkout: %+v, %v", done, err)
		}
		if st, err := c.Stock(ctx, "TEE"); err != nil || st.OnHand != 1 || st.Reserved != 0 {
			t.Errorf("stock after checkout: %+v, %v", st, err)
		}
	})
}

// TestARetryAfterALostAnswerAppliesOnce: cartd applies a POST but its answer is lost (a 503
// in its place); the client retries with the same Idempotency-Key and body, and gets the
// first call's answer: the units are added once.
func TestARetryAfterALostAnswerAppliesOnce(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var keys []string
	lose := 2 // answers to lose
	url, key := mustCartd(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path == "/v1/carts" {
				next.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			keys = append(keys, r.Header.Get("Idempotency-Key"))
			drop := lose > 0
			lose--
			mu.Unlock()
			if !drop {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(httptest.NewRecorder(), r) // applied, answer lost
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"type":"https://cartd.dev/problems/overloaded","title":"Service Unavailable","status":503,"code":"overloaded"}`))
		})
	})
	c := client.New(url, key, client.WithBackoff(time.Millisecond, 10*time.Millisecond))
	mustCatalog(t, c, "MUG", 50)
	cart, err := c.CreateCart(ctx, client.NewCart{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.AddItem(ctx, cart.ID, client.NewItem{SKU: "MUG", Quantity: 3})
	if err != nil {
		t.Fatalf("AddItem after two lost answers: %v", err)
	}
	if got.ItemCount != 3 {
		t.Errorf("the answer holds %d units, want 3", got.ItemCount)
	}
	now, err := c.Cart(ctx, cart.ID)
	if err != nil || now.ItemCount != 3 {
		t.Errorf("the cart holds %d units (%v), want 3: the retries applied the change again", now.ItemCount, err)
	}
	if len(keys) != 3 || keys[0] == "" || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("Idempotency-Keys of the tries: %q, want three times the same", keys)
	}
}

func TestWhatIsNotRetried(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		status int
		body   string
		opts   []client.Option
		tries  int
	}{
		{"a 422 is final", 422, `{"type":"https://cartd.dev/problems/invalid_quantity","title":"Unprocessable Content","status":422,"code":"invalid_quantity"}`, nil, 1},
		{"a 404 is final", 404, `{"type":"https://cartd.dev/problems/cart_not_found","title":"Not Found","status":404,"code":"cart_not_found"}`, nil, 1},
		{"a 503 is retried up to the limit", 503, `{"type":"https://cartd.dev/problems/overloaded","title":"Service Unavailable","status":503,"code":"overloaded"}`, []client.Option{client.WithRetries(2)}, 3},
		{"retries can be turned off", 503, `{"type":"https://cartd.dev/problems/overloaded","title":"Service Unavailable","status":503,"code":"overloaded"}`, []client.Option{client.WithRetries(0)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			tries := 0
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				tries++
				mu.Unlock()
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer hs.Close()
			opts := append([]client.Option{client.WithBackoff(time.Millisecond, time.Millisecond)}, tt.opts...)
			_, err := client.New(hs.URL, "sk_x", opts...).Cart(ctx, "cart_1")
			var pe *client.Error
			if !errors.As(err, &pe) || pe.Status != tt.status {
				t.Errorf("err = %v", err)
			}
			if tries != tt.tries {
				t.Errorf("%d tries, want %d", tries, tt.tries)
			}
		})
	}
}

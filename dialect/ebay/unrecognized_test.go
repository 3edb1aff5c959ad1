package ebay_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cartd/cartd/dialect/ebay"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/internal/testserver"
)

// TestMadeUpTokensAreLimitedAsTheirAddress: however many tokens a client makes up, they get
// what one address gets (testserver.MustLimitMadeUpTokensAsTheirAddress).
func TestMadeUpTokensAreLimitedAsTheirAddress(t *testing.T) {
	testserver.MustLimitMadeUpTokensAsTheirAddress(t, func(mux *http.ServeMux, eng *engine.Engine, g *limits.Guard) {
		mux.Handle(ebay.Prefix, ebay.New(eng, ebay.Config{Guard: g}))
	}, func(base, tok string) (*http.Request, error) {
		req, err := http.NewRequest("POST", base+"/buy/browse/v1/shopping_cart/update_quantity", strings.NewReader(`{}`))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		return req, nil
	})
}

package jackthreads_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cartd/cartd/dialect/jackthreads"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/internal/testserver"
)

// TestMadeUpTokensAreLimitedAsTheirAddress: however many tokens a client makes up, they get
// what one address gets (testserver.MustLimitMadeUpTokensAsTheirAddress).
func TestMadeUpTokensAreLimitedAsTheirAddress(t *testing.T) {
	testserver.MustLimitMadeUpTokensAsTheirAddress(t, func(mux *http.ServeMux, eng *engine.Engine, g *limits.Guard) {
		mux.Handle(jackthreads.Prefix, jackthreads.New(eng, jackthreads.Config{Guard: g}))
	}, func(base, tok string) (*http.Request, error) {
		req, err := http.NewRequest("POST", base+"/services/v1/cart/set_qty", strings.NewReader("oauth_token="+tok+"&product_id=1&qty=1"))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	})
}

package sourcehub_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/dialect/sourcehub"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/internal/testserver"
)

// TestMadeUpTokensAreLimitedAsTheirAddress sends requests each with a token cartd never
// issued: once found to be no valid one, each is charged to its address as a request without
// a token is, so however many are made up, they get what one address gets.
func TestMadeUpTokensAreLimitedAsTheirAddress(t *testing.T) {
	hourly := func(burst int) limits.Rate { return limits.Rate{PerSecond: 1.0 / 3600, Burst: burst} }
	g := limits.New(limits.Config{Anonymous: hourly(2), Customer: hourly(100), Key: hourly(100)})
	s := testserver.MustStart(t, testserver.Options{Mount: func(mux *http.ServeMux, eng *engine.Engine) {
		mux.Handle(sourcehub.Prefix, sourcehub.New(eng, sourcehub.Config{Guard: g}))
	}})
	status := func() int {
		tok := auth.NewSecret(auth.TokenPrefix)
		req, err := http.NewRequest("POST", s.URL+"/api/cart/update-item?product_id=1&quantity=1", strings.NewReader(``))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 2 {
		if got := status(); got != http.StatusUnauthorized {
			t.Fatalf("made-up token %d of 2: %d, want 401", i+1, got)
		}
	}
	if got := status(); got != http.StatusTooManyRequests {
		t.Fatalf("the third made-up token from the address: %d, want 429", got)
	}
}

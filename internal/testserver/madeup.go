package testserver

import (
	"io"
	"net/http"
	"testing"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
)

// MustLimitMadeUpTokensAsTheirAddress checks a front door against tokens cartd never issued:
// once found to be no valid one, each must be charged to its client address as a request
// without a token is, so that however many are made up they get what one address gets. mount
// adds the front door, built with the guard it is given; request builds a call carrying the
// made-up token tok to the server at base. With an anonymous burst of 2 an hour, two such
// calls are 401 and the third 429.
func MustLimitMadeUpTokensAsTheirAddress(t *testing.T, mount func(mux *http.ServeMux, eng *engine.Engine, g *limits.Guard),
	request func(base, tok string) (*http.Request, error)) {
	t.Helper()
	hourly := func(burst int) limits.Rate { return limits.Rate{PerSecond: 1.0 / 3600, Burst: burst} }
	g := limits.New(limits.Config{Anonymous: hourly(2), Customer: hourly(100), Key: hourly(100)})
	s := MustStart(t, Options{Mount: func(mux *http.ServeMux, eng *engine.Engine) { mount(mux, eng, g) }})
	status := func() int {
		req, err := request(s.URL, auth.NewSecret(auth.TokenPrefix))
		if err != nil {
			t.Fatal(err)
		}
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

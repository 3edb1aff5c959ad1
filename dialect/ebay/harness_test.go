package ebay_test

import (
	"net/http"
	"testing"

	"github.com/cartd/cartd/dialect/ebay"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/testserver"
)

// testServer is cartd as it serves: the native API with the eBay dialect mounted at its
// prefix, on a real SQLite file, over loopback TCP.
type testServer struct{ *testserver.Server }

type response = testserver.Response

// mustServer starts a server with reservations of 15 minutes, on a clock that moves only when
// a test advances it.
func mustServer(tb testing.TB) *testServer {
	tb.Helper()
	return &testServer{testserver.MustStart(tb, testserver.Options{Mount: func(mux *http.ServeMux, eng *engine.Engine) {
		mux.Handle(ebay.Prefix, ebay.New(eng, ebay.Config{PublicURL: "https://shop.example"}))
	}})}
}

// do sends a request with a Bearer credential ("" for none) and a JSON body (nil for none; a
// string is sent as is, anything else is marshalled). Extra headers come in pairs.
func (s *testServer) do(tb testing.TB, method, path, credential string, body any, headers ...string) response {
	tb.Helper()
	rd := testserver.Body(tb, body)
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return s.Send(tb, req)
}

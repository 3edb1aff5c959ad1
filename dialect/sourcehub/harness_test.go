package sourcehub_test

import (
	"net/http"
	"testing"

	"github.com/cartd/cartd/dialect/sourcehub"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/testserver"
)

// testServer is cartd as it serves: the native API with the SourceHub dialect mounted at its
// prefix, on a real SQLite file, over loopback TCP.
type testServer struct{ *testserver.Server }

type response = testserver.Response

// mustServer starts a server with reservations of 15 minutes, on a clock that moves only when
// a test advances it.
func mustServer(tb testing.TB) *testServer {
	tb.Helper()
	return &testServer{testserver.MustStart(tb, testserver.Options{Mount: func(mux *http.ServeMux, eng *engine.Engine) {
		mux.Handle(sourcehub.Prefix, sourcehub.New(eng, sourcehub.Config{}))
	}})}
}

// do sends a request with a Bearer credential ("" for none) and no body.
func (s *testServer) do(tb testing.TB, method, path, credential string) response {
	tb.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	// The seed's headers: the call sends no body.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return s.Send(tb, req)
}

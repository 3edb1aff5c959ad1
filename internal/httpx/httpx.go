// Package httpx holds the plumbing every cartd front door shares: serving a ServeMux so that
// unmatched requests and panics are answered in the front door's own format.
package httpx

import (
	"fmt"
	"net/http"

	"github.com/cartd/cartd/cart"
)

// Serve serves r through mux.
//
// A request no route matches is not answered by the mux: the mux's own reply is recorded to
// learn its status (404, 405, or a path-cleaning redirect) and headers, Allow is copied to w,
// and notMatched answers in the front door's format.
//
// A panicking handler (or notMatched) answers 500 through panicked, with an internal
// *cart.Error, instead of dropping the connection; http.ErrAbortHandler still aborts.
func Serve(mux *http.ServeMux, w http.ResponseWriter, r *http.Request,
	notMatched func(w http.ResponseWriter, r *http.Request, status int, header http.Header),
	panicked func(w http.ResponseWriter, r *http.Request, err error)) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			panicked(w, r, &cart.Error{Code: cart.Internal, Reason: "internal", Message: "panic", Err: fmt.Errorf("panic: %v", v)})
		}
	}()
	h, pattern := mux.Handler(r)
	if pattern != "" {
		// Through the mux, not h: only ServeMux.ServeHTTP sets the request's path values
		// ({id}, {item_id}) and Pattern; Handler discards them.
		mux.ServeHTTP(w, r)
		return
	}
	rec := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if allow := rec.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	notMatched(w, r, rec.status, rec.header)
}

// statusRecorder captures what the mux's own 404/405 handler would write.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }

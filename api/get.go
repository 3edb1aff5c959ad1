package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
)

// cartGet answers GET /v1/carts/{id}. With If-None-Match naming the cart's current ETag (its
// version) the answer is 304 Not Modified, found without reading the cart's lines. Otherwise
// the cart is rendered, or its rendering reused while the engine's snapshot of it holds
// (engine.CartRendered): the bytes are the same as a fresh rendering's.
func (s *Server) cartGet(w http.ResponseWriter, r *http.Request, p auth.Principal, num int64) {
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		version, err := s.eng.CartVersion(r.Context(), p, num)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if etagListMatches(inm, version) {
			w.Header().Set("ETag", etag(version))
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	v, body, err := s.eng.CartRendered(r.Context(), p, num, "native", func(v cart.View) ([]byte, error) {
		b, err := json.Marshal(s.renderCart(v))
		return append(b, '\n'), err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(v.Cart.Version))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// etagListMatches reports whether an If-None-Match field names the version, by the weak
// comparison RFC 9110 §13.1.2 prescribes ("*" matches any cart that exists).
func etagListMatches(fields []string, version int64) bool {
	want := etag(version)
	for _, f := range fields {
		for _, t := range strings.Split(f, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == want {
				return true
			}
		}
	}
	return false
}

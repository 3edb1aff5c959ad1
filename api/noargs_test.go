package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// Checkout and emptying a cart take no arguments: no body, or a JSON object. Anything else is
// refused (415 for another content type, 422 for a body that is not an object) and changes
// nothing.
func TestCallsWithoutArgumentsTakeNoBodyOrAnObject(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_n", 1000, 50, "N-1")
	id := s.mustCart(t)
	s.mustAdd(t, id, "N-1", 2)
	version := func() string {
		return s.do(t, "GET", "/v1/carts/"+id, s.Admin, nil).mustStatus(t, 200).Header.Get("ETag")
	}
	before := version()

	for _, path := range []string{"/v1/carts/" + id + "/checkout", "/v1/carts/" + id + "/items"} {
		method := "POST"
		if strings.HasSuffix(path, "/items") {
			method = "DELETE"
		}
		for _, c := range []struct {
			name, body, contentType string
			status                  int
		}{
			{"text/plain", "hello", "text/plain", http.StatusUnsupportedMediaType},
			{"malformed JSON", "{not json", "application/json", http.StatusUnprocessableEntity},
			{"an array", "[]", "application/json", http.StatusUnprocessableEntity},
			{"a string", `"checkout"`, "application/json", http.StatusUnprocessableEntity},
			{"an object naming a member twice", `{"a":1,"a":2}`, "application/json", http.StatusUnprocessableEntity},
			{"an object holding a lone surrogate", `{"a":"\ud800"}`, "application/json", http.StatusUnprocessableEntity},
		} {
			t.Run(method+" "+path+" with "+c.name, func(t *testing.T) {
				s.do(t, method, path, s.Admin, c.body, "Content-Type", c.contentType).mustStatus(t, c.status)
				if v := version(); v != before {
					t.Fatalf("a refused call moved the cart from %s to %s", before, v)
				}
			})
		}
	}
	// What is accepted: an empty JSON object, and no body at all.
	s.do(t, "DELETE", "/v1/carts/"+id+"/items", s.Admin, "{}").mustStatus(t, 200)
	s.mustAdd(t, id, "N-1", 1)
	s.do(t, "POST", "/v1/carts/"+id+"/checkout", s.Admin, nil).mustStatus(t, 200)
}

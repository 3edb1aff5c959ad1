package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/strictjson"
)

// readNoArguments reads the body of a call that takes no arguments (checkout, emptying a
// cart): none, or a JSON object, as clients that always send one do; its members are ignored,
// but it must be JSON cartd would take from any call (strictjson.Check). Another content type
// is MediaType (415); anything but an object is Invalid (422), so that a client sending
// something it believes has a meaning learns that it has none before anything changes.
func (s *Server) readNoArguments(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil
	}
	if trimmed[0] != '{' || !json.Valid(trimmed) {
		return cart.InvalidField("invalid_body", "body", "this call takes no arguments: send no body, or a JSON object")
	}
	return strictjson.Check(body, "the request body")
}

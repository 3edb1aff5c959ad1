package api

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// A renderer turns an engine call's result into the response a mutating call sends. The same
// bytes are stored with an Idempotency-Key and replayed to retries, so rendering must depend
// on nothing but the result and the request.
type renderer func(result any) engine.Response

// jsonResponse renders v as a JSON response.
func jsonResponse(status int, v any) engine.Response {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types are rendered; they always encode.
		panic("api: encode response: " + err.Error())
	}
	return engine.Response{Status: status, Header: map[string]string{"Content-Type": "application/json"}, Body: append(b, '\n')}
}

// cartResponse renders a cart with its ETag (and Location, for a new cart).
func (s *Server) cartResponse(status int) renderer {
	return func(result any) engine.Response {
		v := result.(cart.View)
		resp := jsonResponse(status, s.renderCart(v))
		resp.Header["ETag"] = etag(v.Cart.Version)
		if status == http.StatusCreated {
			resp.Header["Location"] = "/v1/carts/" + cartID(v.Cart.Num)
		}
		return resp
	}
}

// stockResponse renders a SKU's stock with its ETag, the stock's version, for If-Match.
func stockResponse(result any) engine.Response {
	st := result.(cart.Stock)
	resp := jsonResponse(http.StatusOK, renderStock(st))
	resp.Header["ETag"] = etag(st.Version)
	return resp
}

// noContent renders a 204.
func noContent(any) engine.Response { return engine.Response{Status: http.StatusNoContent} }

// send writes a rendered response.
func send(w http.ResponseWriter, resp engine.Response) {
	for k, v := range resp.Header {
		w.Header().Set(k, v)
	}
	if len(resp.Body) > 0 {
		w.Header().Set("Content-Length", strconv.Itoa(len(resp.Body)))
	}
	w.WriteHeader(resp.Status)
	w.Write(resp.Body)
}

// mutate runs a mutating engine call with the request's preconditions (If-Match) and its
// Idempotency-Key, and answers with the rendered result, or with the stored response of the
// key's first call (marked Idempotent-Replayed: true).
func (s *Server) mutate(w http.ResponseWriter, r *http.Request, p auth.Principal, body []byte, render renderer, call func(engine.Options) (any, error)) {
	opt := options(r)
	var recorded *engine.Response
	if key := r.Header.Get("Idempotency-Key"); key != "" || len(r.Header.Values("Idempotency-Key")) > 0 {
		opt.Idempotency = &engine.Idempotency{
			Scope:       idempotencyScope(p) + " " + r.Method + " " + r.URL.Path,
			Key:         key,
			RequestHash: sha256.Sum256(body),
			Record: func(result any) (engine.Response, error) {
				resp := render(result)
				recorded = &resp
				return resp, nil
			},
		}
	}
	result, err := call(opt)
	var replayed *engine.Replayed
	switch {
	case errors.As(err, &replayed):
		w.Header().Set("Idempotent-Replayed", "true")
		send(w, replayed.Response)
	case err != nil:
		s.writeError(w, r, err)
	case recorded != nil:
		send(w, *recorded)
	default:
		send(w, render(result))
	}
}

// idempotencyScope names whose keys these are: an API key's, or a customer's (whichever of
// the customer's tokens is used).
func idempotencyScope(p auth.Principal) string {
	if p.IsCustomer() {
		return "customer:" + p.CustomerID
	}
	return "key:" + strconv.FormatInt(p.KeyNum, 10)
}

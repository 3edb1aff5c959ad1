package ebay

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/strictjson"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// updateQuantity is a decoded update_quantity request.
type updateQuantity struct {
	CartItemID string // as sent: ci_<ItemNum>
	ItemNum    int64  // positive
	Quantity   int64  // 1 or more
}

// itemPrefix is how cartd's item ids begin (ARCHITECTURE.md §Model).
const itemPrefix = "ci_"

// readRequest reads the body (JSON, at most MaxBody bytes) and decodes it. It returns the
// status and errors to answer with when the request is refused.
func readRequest(w http.ResponseWriter, r *http.Request) (updateQuantity, int, []errorJSON) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			e := invalidRequest
			e.LongMessage = "The request body must be application/json."
			return updateQuantity{}, http.StatusUnsupportedMediaType, []errorJSON{e}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		e := invalidRequest
		e.LongMessage = "The request body could not be read."
		status := http.StatusBadRequest
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			e.LongMessage = "The request body is over " + strconv.Itoa(MaxBody) + " bytes."
			status = http.StatusRequestEntityTooLarge
		}
		return updateQuantity{}, status, []errorJSON{e}
	}
	if err := strictjson.Check(body, "the request body"); err != nil {
		// Well-formed JSON, but ambiguous or not text: 422, as every front door answers it.
		e := invalidRequest
		e.LongMessage = err.Error()
		if ce := cart.AsError(err); len(ce.Fields) > 0 {
			e.Parameters = []parameterJSON{{Name: "field", Value: ce.Fields[0].Field}}
		}
		return updateQuantity{}, http.StatusUnprocessableEntity, []errorJSON{e}
	}
	req, errs := decodeUpdateQuantity(body)
	if errs != nil {
		return req, http.StatusBadRequest, errs
	}
	return req, http.StatusOK, nil
}

// decodeUpdateQuantity decodes the body {cartItemId, quantity}: a JSON object whose member
// names are matched exactly (others are ignored). A body that is not a JSON object is 2004;
// otherwise every field error is reported, cartItemId's first: 10007 for a field missing (or
// null), 10012 for a cartItemId that is not an item id, 10009 for a quantity that is not an
// integer of at least 1.
func decodeUpdateQuantity(body []byte) (updateQuantity, []errorJSON) {
	var req updateQuantity
	var fields map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&fields); err != nil || fields == nil || d.More() {
		e := invalidRequest
		e.LongMessage = "The request body must be a JSON object: {\"cartItemId\": string, \"quantity\": integer}."
		return req, []errorJSON{e}
	}
	if _, err := d.Token(); err != io.EOF {
		e := invalidRequest
		e.LongMessage = "The request body must hold one JSON object."
		return req, []errorJSON{e}
	}
	var errs []errorJSON
	switch raw := fields["cartItemId"]; {
	case isMissing(raw):
		errs = append(errs, required("cartItemId"))
	default:
		var s string
		n, ok := int64(0), json.Unmarshal(raw, &s) == nil
		if ok {
			n, ok = parseItemID(s)
		}
		if !ok {
			errs = append(errs, invalidItemID(string(raw), s))
			break
		}
		req.CartItemID, req.ItemNum = s, n
	}
	switch raw := fields["quantity"]; {
	case isMissing(raw):
		errs = append(errs, required("quantity"))
	default:
		q, ok := parseQuantity(raw)
		if !ok || q < 1 {
			errs = append(errs, invalidQuantity(string(raw)))
			break
		}
		req.Quantity = q
	}
	return req, errs
}

func isMissing(raw json.RawMessage) bool {
	return raw == nil || string(bytes.TrimSpace(raw)) == "null"
}

// parseItemID reads ci_<positive number>, written as cartd writes it.
func parseItemID(s string) (int64, bool) {
	rest, ok := strings.CutPrefix(s, itemPrefix)
	if !ok || rest == "" || rest[0] == '0' || rest[0] == '+' || rest[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n > 0
}

// parseQuantity reads a JSON integer, or a string holding one.
func parseQuantity(raw json.RawMessage) (int64, bool) {
	text := string(bytes.TrimSpace(raw))
	var s string
	if json.Unmarshal(raw, &s) == nil {
		text = s
	}
	n, err := strconv.ParseInt(text, 10, 64)
	return n, err == nil
}

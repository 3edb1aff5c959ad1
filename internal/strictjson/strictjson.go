// Package strictjson decodes one JSON object the way every cartd input is decoded: unknown
// fields, trailing data and values of the wrong type or out of range are errors a client can
// act on, worded for the client. Used by the native API for request bodies and by catalog
// imports for NDJSON lines, so that both refuse the same things in the same words.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/cartd/cartd/cart"
)

// Decode decodes data, which must hold exactly one JSON object, into dst. subject names data
// in messages ("the request body", "the line"); reason is the Malformed error's reason.
// Syntax errors and what is not an object are Malformed; well-formed JSON with bad values is
// Invalid, naming the field.
func Decode(data []byte, dst any, subject, reason string) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return cart.Errorf(cart.Malformed, reason, "%s is empty; send a JSON object", subject)
	}
	// encoding/json decodes null into a struct as if it were {}; the input must be an object.
	if trimmed[0] != '{' {
		return cart.Errorf(cart.Malformed, reason, "%s must be a JSON object", subject)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, tokErr := dec.Token(); tokErr != io.EOF {
			return cart.Errorf(cart.Malformed, reason, "%s holds more than one JSON value", subject)
		}
		return nil
	}
	return Explain(err, subject, reason)
}

// Explain words an encoding/json decoding error as Decode does.
func Explain(err error, subject, reason string) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return cart.Errorf(cart.Malformed, reason, "%s is not valid JSON: %v", subject, err)
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return cart.Errorf(cart.Malformed, reason, "%s must be a JSON object", subject)
	case errors.As(err, &typeErr):
		want := typeErr.Type.String()
		switch want {
		case "int64", "*int64":
			want = "an integer between -9223372036854775808 and 9223372036854775807"
		case "string", "*string":
			want = "a string"
		case "bool", "*bool":
			want = "true or false"
		}
		return cart.InvalidField("invalid_type", typeErr.Field, "%s must be %s, not %s", typeErr.Field, want, typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return cart.InvalidField("unknown_field", name, "unknown field %q", name)
	}
	return cart.Errorf(cart.Malformed, reason, "%s could not be read: %v", subject, err)
}

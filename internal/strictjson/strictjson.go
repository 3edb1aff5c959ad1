// Package strictjson decodes one JSON object the way every cartd input is decoded: unknown
// fields, trailing data and values of the wrong type or out of range are errors a client can
// act on, worded for the client. Used by the native API for request bodies and by catalog
// imports for NDJSON lines, so that both refuse the same things in the same words.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cartd/cartd/cart"
)

// Decode decodes data, which must hold exactly one JSON object, into dst. subject names data
// in messages ("the request body", "the line"); reason is the Malformed error's reason.
// Syntax errors and what is not an object are Malformed; well-formed JSON with bad values, or
// with what Check refuses, is Invalid, naming the field.
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
		return Check(data, subject)
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
		case "cart.Decimal", "*cart.Decimal":
			want = "a number such as 2 or 1.25"
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

// Reasons of the Invalid errors Check, Text and Form raise. Every front door answers them with
// 422 in its own shape: what was sent is well-formed but holds what cartd will not take.
const (
	InvalidText     = "invalid_text"
	DuplicateMember = "duplicate_member"
)

// Refused reports whether e is one of Check's, Text's or Form's refusals (or the engine's
// own refusal of text it would not store).
func Refused(e *cart.Error) bool {
	return e != nil && e.Code == cart.Invalid && (e.Reason == InvalidText || e.Reason == DuplicateMember)
}

// Form refuses a form or a query string whose names or values are not valid UTF-8 once
// percent-decoded, naming the field: what Check is to a JSON body.
func Form(values url.Values) error {
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := Text("a parameter name", name); err != nil {
			return err
		}
		for _, v := range values[name] {
			if err := Text(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Check refuses what encoding/json accepts but cartd will neither store nor hand on: a string
// (member name or value) that is not valid UTF-8 or holds a \u escape of half a UTF-16
// surrogate pair (no character; strict clients cannot read it back), and an object naming a
// member twice (ambiguous: encoding/json would silently keep the last). Each is Invalid,
// naming where it is as a path (changes[1].quantity_delta, metadata.k) and, for text, the
// byte offset in data. data that is not well-formed JSON passes: the decoder reports that.
func Check(data []byte, subject string) error {
	// One pass over the bytes, without decoding: this runs on every body, batches of a
	// thousand changes included, so it allocates only for objects of many members and for
	// the error it returns.
	type frame struct {
		object bool
		key    []byte   // the member being read, as written between its quotes
		keys   [][]byte // the members seen so far, as written
		index  int      // the element being read, in an array
	}
	var stack []frame
	where := func(last []byte) string {
		var b strings.Builder
		for _, f := range stack {
			switch {
			case f.object && f.key != nil:
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(memberName(f.key))
			case !f.object:
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		if last != nil {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(memberName(last))
		}
		if b.Len() == 0 {
			return subject
		}
		return b.String()
	}
	expectKey := false
	for i := 0; i < len(data); {
		switch c := data[i]; c {
		case ' ', '\t', '\n', '\r', ':':
			i++
		case '{', '[':
			stack = append(stack, frame{object: c == '{'})
			expectKey = c == '{'
			i++
		case '}', ']':
			if len(stack) == 0 {
				return nil // not JSON: the decoder's to report
			}
			stack = stack[:len(stack)-1]
			expectKey = false
			i++
		case ',':
			if len(stack) == 0 {
				return nil
			}
			if top := &stack[len(stack)-1]; top.object {
				expectKey = true
			} else {
				top.index++
			}
			i++
		case '"':
			end := stringEnd(data, i)
			if end < 0 {
				return nil
			}
			raw := data[i : end+1]
			isKey := expectKey && len(stack) > 0 && stack[len(stack)-1].object
			var top *frame
			if isKey {
				top = &stack[len(stack)-1]
				top.key = nil // the previous member's
			}
			if at, what := badText(raw); at >= 0 {
				path := where(nil)
				if isKey {
					path = where(raw[1 : len(raw)-1])
				}
				return cart.InvalidField(InvalidText, path, "%s: %s at byte %d of %s; send text as UTF-8", path, what, i+at, subject)
			}
			if isKey {
				name := raw[1 : len(raw)-1]
				for _, k := range top.keys {
					if sameMember(k, name) {
						path := where(name)
						return cart.InvalidField(DuplicateMember, path, "%s is given twice in %s; name each member once", path, subject)
					}
				}
				top.keys = append(top.keys, name)
				top.key = name
				expectKey = false
			}
			i = end + 1
		default:
			// A number, true, false or null: up to the next delimiter.
			for i < len(data) && !isDelimiter(data[i]) {
				i++
			}
		}
	}
	return nil
}

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', ']', '}':
		return true
	}
	return false
}

// stringEnd returns the index of the quote that closes the JSON string opening at data[i], or
// -1 if it does not close.
func stringEnd(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

// sameMember reports whether two member names, as written, name the same member once their
// escapes are read ("a" and "\u0061" do).
func sameMember(a, b []byte) bool {
	if bytes.IndexByte(a, '\\') < 0 && bytes.IndexByte(b, '\\') < 0 {
		return bytes.Equal(a, b)
	}
	return memberName(a) == memberName(b)
}

// memberName is a member name as written, with its escapes read, and valid UTF-8 (what is
// not becomes U+FFFD), so that a message naming it is valid text.
func memberName(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
		return strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	return s
}

// badText finds, in a JSON string as written (quotes and escapes included), the first byte
// that is not valid UTF-8 or the first \u escape of a lone surrogate. It returns its offset and
// what is wrong, or -1.
func badText(s []byte) (int, string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size <= 1 {
				return i, fmt.Sprintf("byte 0x%02x is not valid UTF-8", c)
			}
			i += size
			continue
		}
		if c != '\\' || i+1 >= len(s) {
			i++
			continue
		}
		if s[i+1] != 'u' {
			i += 2
			continue
		}
		r, ok := hex4(s[i+2:])
		switch {
		case !ok:
			i += 2
		case utf16.IsSurrogate(r) && r < 0xdc00:
			if i+12 <= len(s) && s[i+6] == '\\' && s[i+7] == 'u' && isLow(s[i+8:]) {
				i += 12
				continue
			}
			return i, fmt.Sprintf(`\u%04x is half of a UTF-16 surrogate pair, not a character`, r)
		case utf16.IsSurrogate(r):
			return i, fmt.Sprintf(`\u%04x is half of a UTF-16 surrogate pair, not a character`, r)
		default:
			i += 6
		}
	}
	return -1, ""
}

func isLow(s []byte) bool {
	r, ok := hex4(s)
	return ok && r >= 0xdc00 && r <= 0xdfff
}

// hex4 reads the four hex digits of a \u escape.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// Text refuses a client's text that is not valid UTF-8 (a form value, a query parameter, a
// path segment): Invalid invalid_text naming field.
func Text(field, s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return cart.InvalidField(InvalidText, field, "%s: byte 0x%02x at byte %d is not valid UTF-8; send text as UTF-8", field, s[i], i)
		}
		i += size
	}
	return nil
}

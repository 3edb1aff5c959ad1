package engine

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/strictjson"
)

// Text a client sends is stored, and answered back, only as valid UTF-8 without NUL
// characters, whichever front door it came through (a JSON body, a form, a query parameter, a
// CSV import) and whichever store keeps it: SQLite would store anything, PostgreSQL refuses
// NUL, and a byte that is not UTF-8 would make every later read of the cart invalid JSON for a
// strict client. JSON bodies are checked as they are decoded (strictjson.Check, which also
// refuses lone surrogate escapes); textProblem checks the text itself, wherever it came from.

// textProblem says what is wrong with a text to be stored, or "" when nothing is.
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size <= 1 {
				return "byte " + strconv.Itoa(i) + " is not valid UTF-8"
			}
			i += size
		}
	case strings.IndexByte(s, 0) >= 0:
		return "it holds a NUL character at byte " + strconv.Itoa(strings.IndexByte(s, 0))
	}
	return ""
}

// validText refuses a text to be stored under field that is not valid UTF-8 or holds NUL:
// Invalid invalid_text naming the field.
func validText(field, s string) error {
	if p := textProblem(s); p != "" {
		return cart.InvalidField(strictjson.InvalidText, field, "%s must be UTF-8 text without NUL characters: %s", field, p)
	}
	return nil
}

// validJSONText refuses a JSON document to be stored under field (metadata) holding what
// strictjson.Check refuses, naming where inside it: field.path.
func validJSONText(field string, m []byte) error {
	err := strictjson.Check(m, field)
	ce, ok := err.(*cart.Error)
	if !ok || len(ce.Fields) != 1 {
		return err
	}
	where := ce.Fields[0].Field
	if where != field {
		where = field + "." + where
	}
	msg := where + ": " + strings.TrimPrefix(ce.Message, ce.Fields[0].Field+": ")
	out := *ce // the same code and reason, placed under field
	out.Message, out.Fields = msg, []cart.FieldError{{Field: where, Message: msg}}
	return &out
}

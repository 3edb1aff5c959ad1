package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cartd/cartd/cart"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		name, body    string
		reason, field string
		messageHas    string
	}{
		{"plain text passes", `{"sku":"X","notes":"café ☃ \u00e9 \ud83d\ude00","metadata":{"k":["a","\\ud800"]}}`, "", "", ""},
		{"invalid UTF-8 in a metadata value", "{\"sku\":\"X\",\"quantity\":1,\"metadata\":{\"k\":\"\xc3\x28\"}}", "invalid_text", "metadata.k", "byte 0xc3 is not valid UTF-8 at byte 41"},
		{"invalid UTF-8 in notes", "{\"notes\":\"ab\xff\"}", "invalid_text", "notes", "0xff"},
		{"invalid UTF-8 in a member name", "{\"metadata\":{\"k\xfe\":1}}", "invalid_text", "metadata.k\ufffd", "0xfe"},
		{"a lone high surrogate", `{"notes":"a\ud800b"}`, "invalid_text", "notes", `\ud800 is half of a UTF-16 surrogate pair`},
		{"a lone low surrogate", `{"metadata":{"k":"\uDC00"}}`, "invalid_text", "metadata.k", `\udc00`},
		{"a high surrogate at the end", `{"notes":"\ud83d"}`, "invalid_text", "notes", `\ud83d`},
		{"two high surrogates", `{"notes":"\ud83d\ud83d"}`, "invalid_text", "notes", `\ud83d`},
		{"a surrogate in an array", `{"changes":[{"sku":"A"},{"sku":"\ud800"}]}`, "invalid_text", "changes[1].sku", `\ud800`},
		{"a member given twice", `{"quantity_delta":1,"quantity_delta":-2}`, "duplicate_member", "quantity_delta", "given twice"},
		{"a member given twice, once escaped", `{"quantity":1,"quantit\u0079":2}`, "duplicate_member", "quantity", "given twice"},
		{"a member given twice inside a batch", `{"changes":[{"sku":"A","quantity":1},{"sku":"B","sku":"C"}]}`, "duplicate_member", "changes[1].sku", "given twice"},
		{"a member given twice in metadata", `{"metadata":{"a":{"b":1,"b":2}}}`, "duplicate_member", "metadata.a.b", "given twice"},
		{"the same name in two objects passes", `{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}`, "", "", ""},
		{"names differing in case pass", `{"metadata":{"Color":1,"color":2}}`, "", "", ""},
		{"not JSON is the decoder's to report", `{"a":`, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Check([]byte(c.body), "the request body")
			if c.reason == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			ce, ok := err.(*cart.Error)
			if !ok || ce.Code != cart.Invalid || ce.Reason != c.reason || len(ce.Fields) != 1 || ce.Fields[0].Field != c.field ||
				!strings.Contains(ce.Message, c.messageHas) {
				t.Fatalf("Check = %#v, want Invalid %s on %s saying %q", err, c.reason, c.field, c.messageHas)
			}
			if !utf8.ValidString(ce.Message) {
				t.Fatalf("the message is not valid UTF-8: %q", ce.Message)
			}
		})
	}
}

// Decode runs Check: what it refuses never reaches the destination.
func TestDecodeRefusesWhatCheckRefuses(t *testing.T) {
	var dst struct {
		QuantityDelta int64           `json:"quantity_delta"`
		Metadata      json.RawMessage `json:"metadata"`
	}
	for _, body := range []string{`{"quantity_delta":1,"quantity_delta":-2}`, "{\"metadata\":{\"k\":\"\xc3\x28\"}}", `{"metadata":{"k":"\ud800"}}`} {
		if err := Decode([]byte(body), &dst, "the request body", "malformed_body"); cart.ErrorCode(err) != cart.Invalid {
			t.Errorf("Decode(%q) = %v, want Invalid", body, err)
		}
	}
}

func TestText(t *testing.T) {
	if err := Text("sku", "café"); err != nil {
		t.Fatalf("Text of UTF-8: %v", err)
	}
	err := Text("sku", "AB\xed\xa0\x80")
	if ce, ok := err.(*cart.Error); !ok || ce.Reason != "invalid_text" || ce.Fields[0].Field != "sku" || !strings.Contains(ce.Message, "byte 2") {
		t.Fatalf("Text of an encoded surrogate = %v", err)
	}
}

// hasDuplicate is what Check's duplicate rule means, found the slow way: an object of data
// naming a member twice.
func hasDuplicate(data []byte) bool {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	type frame struct {
		object, expectKey bool
		keys              map[string]bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				if top != nil && top.object {
					top.expectKey = true
				}
				stack = append(stack, &frame{object: t == '{', expectKey: true, keys: map[string]bool{}})
				continue
			}
			stack = stack[:len(stack)-1]
		case string:
			if top != nil && top.object && top.expectKey {
				if top.keys[t] {
					return true
				}
				top.keys[t] = true
				top.expectKey = false
				continue
			}
			if top != nil && top.object {
				top.expectKey = true
			}
		default:
			if top != nil && top.object {
				top.expectKey = true
			}
		}
	}
}

// FuzzCheck holds Check to its word: what it passes holds only valid UTF-8 strings (as
// encoding/json decodes them, no replacement character that was not sent) and no object with
// a member twice; it never panics.
func FuzzCheck(f *testing.F) {
	for _, seed := range []string{
		`{"sku":"X","quantity":1}`,
		"{\"sku\":\"X\",\"quantity\":1,\"metadata\":{\"k\":\"\xc3\x28\"}}",
		`{"notes":"a\ud800b"}`, `{"notes":"\udc00"}`, `{"notes":"\ud83d\ude00"}`, `{"notes":"\ud83d"}`,
		`{"quantity_delta":1,"quantity_delta":-2}`,
		`{"changes":[{"sku":"A","sku":"B"}]}`,
		`{"a":"\\ud800"}`, `{"a":"\\\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data, "the body")
		if json.Valid(data) && utf8.Valid(data) {
			refused := err != nil && err.(*cart.Error).Reason == DuplicateMember
			if dup := hasDuplicate(data); dup != refused && !strings.Contains(string(data), `\u`) {
				t.Fatalf("%q: a member given twice: %v, but Check says %v", data, dup, err)
			}
		}
		if err != nil || !json.Valid(data) {
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("Check passed invalid UTF-8: %q", data)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return
		}
		if strings.ContainsRune(string(data), utf8.RuneError) {
			return // sent as such
		}
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case string:
				if strings.ContainsRune(v, utf8.RuneError) && !strings.Contains(strings.ToLower(string(data)), `\ufffd`) {
					t.Fatalf("Check passed a string that decodes with a replacement character: %q", data)
				}
			case map[string]any:
				for k, x := range v {
					walk(k)
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(v)
	})
}

// BenchmarkCheck measures what Check adds to decoding a body: a typical item change, and a
// batch of 1,000 changes.
func BenchmarkCheck(b *testing.B) {
	item := []byte(`{"quantity_delta": 1, "notes": "gift wrap", "metadata": {"source": "app", "tags": ["a", "b"]}}`)
	var batch strings.Builder
	batch.WriteString(`{"changes": [`)
	for i := range 1000 {
		if i > 0 {
			batch.WriteByte(',')
		}
		batch.WriteString(`{"item_id": "ci_12345", "quantity_delta": 1}`)
	}
	batch.WriteString(`]}`)
	for _, c := range []struct {
		name string
		body []byte
	}{{"item", item}, {"batch of 1000", []byte(batch.String())}} {
		b.Run(c.name+"/decode", func(b *testing.B) {
			for b.Loop() {
				var v map[string]any
				if err := json.Unmarshal(c.body, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/check", func(b *testing.B) {
			for b.Loop() {
				if err := Check(c.body, "the body"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

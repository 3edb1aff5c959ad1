package cart

import (
	"encoding/json"
	"math/big"
	"testing"
)

// FuzzParseDecimal holds the decoder of quantities to the value of their text: whatever the
// bytes, it does not panic; what it accepts is a JSON number without exponent whose exact
// value is N * 10^-Digits; and written back at its own scale it reads the same.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "1.25", "-0.0005", "1.2500", "1e-1", "9223372036854775807", "9223372036854775808",
		"0.00000000000000000001", "92233720368547758.07", "1.", ".5", "-", "01", "1.5e3", "--1", "0.000000"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := ParseDecimal(b)
		if d.Bad != 0 {
			return
		}
		if !json.Valid(b) {
			// ParseDecimal reads what encoding/json has already checked; it may accept more
			// (a leading zero), never a value other than the text's.
			if _, ok := new(big.Rat).SetString(string(b)); !ok {
				t.Fatalf("%q: accepted %+v", b, d)
			}
		}
		want, ok := new(big.Rat).SetString(string(b))
		if !ok {
			t.Fatalf("%q: accepted %+v, not a number", b, d)
		}
		got := new(big.Rat).SetFrac(big.NewInt(d.N), big.NewInt(Pow10(int(d.Digits))))
		if got.Cmp(want) != 0 {
			t.Fatalf("%q: %+v is %s, not %s", b, d, got, want)
		}
		if back := ParseDecimal([]byte(FormatScaled(d.N, int(d.Digits)))); back.N != d.N || back.Digits != d.Digits {
			t.Fatalf("%q: %+v written back reads %+v", b, d, back)
		}
	})
}

package cart

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDecimalScaled pins how a quantity's JSON text becomes units of a variant's scale:
// exactly, trailing zeros of the fraction carrying no precision ("0.10" at scale 1 is 1 unit,
// "2.0" a whole 2), more digits than the scale refused, exponents refused.
func TestDecimalScaled(t *testing.T) {
	for _, c := range []struct {
		text   string
		scale  int
		want   int64
		reason string
	}{
		{"1", 0, 1, ""},
		{"0", 0, 0, ""},
		{"-3", 0, -3, ""},
		{"2.0", 0, 2, ""},
		{"1.5", 0, 0, "quantity_precision"},
		{"0.1", 1, 1, ""},
		{"0.10", 1, 1, ""},
		{"0.01", 1, 0, "quantity_precision"},
		{"1.25", 3, 1250, ""},
		{"1.250", 3, 1250, ""},
		{"1.2505", 3, 0, "quantity_precision"},
		{"-0.5", 2, -50, ""},
		{"12", 6, 12_000_000, ""},
		{"0.000001", 6, 1, ""},
		{"1e-1", 1, 0, "invalid_quantity"},
		{"1E2", 0, 0, "invalid_quantity"},
		{"9223372036854775807", 0, math.MaxInt64, ""},
		{"9223372036854775808", 0, 0, "quantity_out_of_range"},
		{"9223372036854775807", 1, 0, "quantity_out_of_range"},
		{"92233720368547.75807", 5, math.MaxInt64, ""},
		{"0.0000000000000000001", 6, 0, "quantity_out_of_range"},
		{"1.", 0, 0, "quantity_out_of_range"},
		{"-", 0, 0, "quantity_out_of_range"},
	} {
		got, err := ParseDecimal([]byte(c.text)).Scaled(c.scale, "quantity")
		if c.reason != "" {
			if e, ok := err.(*Error); !ok || e.Reason != c.reason || e.Fields[0].Field != "quantity" {
				t.Errorf("%s at scale %d: %v, want %s naming quantity", c.text, c.scale, err, c.reason)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s at scale %d: %d, %v; want %d", c.text, c.scale, got, err, c.want)
		}
	}
}

// TestDecimalRoundTrips: any quantity at any scale, written as FormatScaled writes it (with
// or without trailing zeros added), reads back as the same units; with one more digit than
// the scale it is refused. Fixed seed, so a failure replays.
func TestDecimalRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 3))
	for range 20000 {
		scale := r.IntN(MaxScale + 1)
		q := r.Int64N(1 << uint(r.IntN(62)+1))
		if r.IntN(4) == 0 {
			q = -q
		}
		text := FormatScaled(q, scale)
		if scale > 0 && r.IntN(2) == 0 {
			text += "00"
		}
		got, err := ParseDecimal([]byte(text)).Scaled(scale, "quantity")
		if err != nil || got != q {
			t.Fatalf("%q at scale %d: %d, %v; want %d", text, scale, got, err, q)
		}
		if scale > 0 && q%10 != 0 {
			if _, err := ParseDecimal([]byte(text)).Scaled(scale-1, "quantity"); err == nil {
				t.Fatalf("%q at scale %d is accepted", text, scale-1)
			}
		}
		if w := RoundScaled(q, scale); scale == 0 && w != q {
			t.Fatalf("RoundScaled(%d, 0) = %d", q, w)
		}
	}
}

func TestRoundScaledHalfUp(t *testing.T) {
	for _, c := range []struct {
		q     int64
		scale int
		want  int64
	}{{1250, 3, 1}, {1500, 3, 2}, {1499, 3, 1}, {5, 1, 1}, {4, 1, 0}, {-5, 1, 0}, {-6, 1, -1}, {7, 0, 7}} {
		if got := RoundScaled(c.q, c.scale); got != c.want {
			t.Errorf("RoundScaled(%d, %d) = %d, want %d", c.q, c.scale, got, c.want)
		}
	}
	for _, c := range []struct {
		q     int64
		scale int
		want  int64
	}{{1250, 3, 2}, {1000, 3, 1}, {1, 6, 1}, {0, 3, 0}, {7, 0, 7}} {
		if got := WholeUnits(c.q, c.scale); got != c.want {
			t.Errorf("WholeUnits(%d, %d) = %d, want %d", c.q, c.scale, got, c.want)
		}
	}
	if got := FormatScaled(5, 3) + " " + FormatScaled(-1250, 3) + " " + FormatScaled(math.MinInt64, 2); got != "0.005 -1.250 -92233720368547758.08" {
		t.Errorf("FormatScaled: %s", got)
	}
}

func TestChangeIn(t *testing.T) {
	for _, c := range []struct {
		ch     Change
		scale  int
		want   int64
		reason string
	}{
		{SetTo(3), 3, 3, ""}, // the engine's own: already in units
		{WholeSet(3), 0, 3, ""},
		{WholeSet(3), 3, 0, ReasonMeasured},
		{WholeDelta(-1), 2, 0, ReasonMeasured},
		{WholeSet(0), 3, 0, ""}, // a removal is whole at any scale
		{DecimalChange(true, ParseDecimal([]byte("1.25"))), 3, 1250, ""},
		{DecimalChange(false, ParseDecimal([]byte("1.25"))), 1, 0, "quantity_precision"},
	} {
		got, err := c.ch.In(c.scale, "SKU", "kg")
		if c.reason != "" {
			if e, ok := err.(*Error); !ok || e.Reason != c.reason {
				t.Errorf("%+v at %d: %v, want %s", c.ch, c.scale, err, c.reason)
			}
			continue
		}
		if err != nil || got.N != c.want || got.Form != FormUnits {
			t.Errorf("%+v at %d: %+v, %v; want %d", c.ch, c.scale, got, err, c.want)
		}
	}
}

func TestValidUnit(t *testing.T) {
	for u, ok := range map[string]bool{"": true, "kg": true, "ft²": true, "m": true, "k g": false, "kg\x00": false,
		"\u200bkg": false, "abcdefghijklmnopq": false} {
		if got := ValidUnit(u) == ""; got != ok {
			t.Errorf("ValidUnit(%q): %v, want %v", u, got, ok)
		}
	}
}

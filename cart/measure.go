package cart

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Measured quantities (docs/measured-quantities.md). A variant sold by the kilogram or the
// metre has a QuantityScale: its quantities are integers of 10^-scale of its Unit, everywhere
// inside cartd (a line's quantity, its reservation, stock, tiers' MinQuantity, rule values),
// so that 1.25 kg at scale 3 is 1250. Front doors turn decimals into such integers exactly
// (Decimal, Scaled) and back (FormatScaled); nothing goes through a float.

// MaxScale is the most decimal digits a variant's quantities may have.
const MaxScale = 6

// MaxUnitLen bounds a variant's Unit label, in bytes.
const MaxUnitLen = 16

var pow10 = [...]int64{1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000,
	1_000_000_000, 10_000_000_000, 100_000_000_000, 1_000_000_000_000, 10_000_000_000_000,
	100_000_000_000_000, 1_000_000_000_000_000, 10_000_000_000_000_000, 100_000_000_000_000_000,
	1_000_000_000_000_000_000}

// Pow10 is 10^n for 0 <= n <= 18.
func Pow10(n int) int64 { return pow10[n] }

// Scale is the variant's quantity scale; 0 for a nil variant.
func (v *Variant) Scale() int {
	if v == nil {
		return 0
	}
	return int(v.QuantityScale)
}

// WholeUnits is how many whole units a quantity of scale digits counts for, rounded up: 1.25
// kg counts as 2 in a cart's item count, so that a cart's units bound its figures
// (pricing.MaxUnits) whatever the scale. At scale 0 it is q.
func WholeUnits(q int64, scale int) int64 {
	if scale == 0 || q <= 0 {
		return q
	}
	p := pow10[scale]
	return q/p + min(q%p, 1)
}

// ScaleLimit is a limit given in whole units (max_quantity_per_item) in units of 10^-scale,
// saturating at MaxInt64.
func ScaleLimit(limit int64, scale int) int64 {
	if scale == 0 || limit <= 0 {
		return limit
	}
	if limit > math.MaxInt64/pow10[scale] {
		return math.MaxInt64
	}
	return limit * pow10[scale]
}

// ValidUnit reports why a unit label cannot be stored, or "" when it can: at most MaxUnitLen
// bytes of printable UTF-8 without spaces (kg, m, l, ft², pcs).
func ValidUnit(u string) string {
	if len(u) > MaxUnitLen {
		return "unit must be at most 16 bytes"
	}
	if !utf8.ValidString(u) {
		return "unit must be UTF-8 text"
	}
	for _, r := range u {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return "unit must be printable characters without spaces"
		}
	}
	return ""
}

// Decimal is a number as a client wrote it in JSON, exactly: N * 10^-Digits, with trailing
// zeros of the fraction dropped ("1.250" is N 125, Digits 2). It decodes from the number's
// own text, never through a float64. A number with an exponent or beyond int64 decodes with
// Bad set instead of failing, so that the front door can name its field (Decimal.Err).
type Decimal struct {
	N      int64
	Digits uint8
	Bad    uint8 // 0: fine; badExponent, badRange
}

const (
	badExponent = 1 + iota
	badRange
)

// UnmarshalJSON reads a JSON number; anything else is a type error naming the field.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // as for any number: null leaves it as it is
	}
	if len(b) == 0 || !(b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[Decimal]()}
	}
	*d = ParseDecimal(b)
	return nil
}

// ParseDecimal reads the text of a JSON number (-?digits(.digits)?([eE]...)?) exactly. Text
// that is not a number yields Bad.
func ParseDecimal(b []byte) Decimal {
	var d Decimal
	i, neg := 0, false
	if i < len(b) && b[i] == '-' {
		neg, i = true, i+1
	}
	var n uint64
	digits, zeros, frac, sawDigit := 0, 0, false, false
	fracStart := -1
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '0' && frac:
			// Zeros of the fraction count only once a digit follows: "1.2500" is 1.25,
			// whatever the length of the tail.
			sawDigit = true
			zeros++
		case c >= '0' && c <= '9':
			sawDigit = true
			for ; zeros > 0; zeros-- {
				if n > math.MaxInt64/10 {
					d.Bad = badRange
					return d
				}
				n *= 10
				digits++
			}
			if n > (math.MaxInt64-uint64(c-'0'))/10 {
				d.Bad = badRange
				return d
			}
			n = n*10 + uint64(c-'0')
			if frac {
				digits++
			}
		case c == '.' && !frac:
			frac, fracStart = true, i
		case c == 'e' || c == 'E':
			d.Bad = badExponent
			return d
		default:
			d.Bad = badRange
			return d
		}
	}
	if !sawDigit || fracStart == len(b)-1 {
		d.Bad = badRange
		return d
	}
	if digits > 18 {
		d.Bad = badRange
		return d
	}
	d.N, d.Digits = int64(n), uint8(digits)
	if neg {
		d.N = -d.N
	}
	return d
}

// Err is the error of a decimal that could not be read, naming field; nil when it was.
func (d Decimal) Err(field string) error {
	switch d.Bad {
	case badExponent:
		return InvalidField("invalid_quantity", field, "%s must be written as a plain decimal such as 1.25, without an exponent", field)
	case badRange:
		return InvalidField("quantity_out_of_range", field, "%s is out of range", field)
	}
	return nil
}

// Whole is an integer as a Decimal.
func Whole(n int64) Decimal { return Decimal{N: n} }

// Scaled is d in units of 10^-scale: the integer cartd stores. A decimal with more digits than
// the scale is Invalid (quantity_precision), naming field; one out of int64 once scaled is
// quantity_out_of_range. At Digits == scale (every integer of a scale-0 variant) it is d.N,
// at no cost.
func (d Decimal) Scaled(scale int, field string) (int64, error) {
	if d.Bad != 0 {
		return 0, d.Err(field)
	}
	if int(d.Digits) == scale {
		return d.N, nil
	}
	if int(d.Digits) > scale {
		if scale == 0 {
			return 0, InvalidField("quantity_precision", field, "%s %s is not a whole number: this item is sold in whole units", field, FormatScaled(d.N, int(d.Digits)))
		}
		return 0, InvalidField("quantity_precision", field, "%s %s has more than %d decimal digits: this item is measured to %d digits",
			field, FormatScaled(d.N, int(d.Digits)), scale, scale)
	}
	p := pow10[scale-int(d.Digits)]
	if d.N > math.MaxInt64/p || d.N < math.MinInt64/p {
		return 0, InvalidField("quantity_out_of_range", field, "%s is out of range", field)
	}
	return d.N * p, nil
}

// FormatScaled writes q units of 10^-scale as a decimal with exactly scale digits after the
// point ("1.250" at scale 3), or as an integer at scale 0.
func FormatScaled(q int64, scale int) string {
	return string(AppendScaled(nil, q, scale))
}

// AppendScaled appends FormatScaled(q, scale) to b.
func AppendScaled(b []byte, q int64, scale int) []byte {
	if scale == 0 {
		return strconv.AppendInt(b, q, 10)
	}
	if q < 0 {
		b = append(b, '-')
		if q == math.MinInt64 {
			// |MinInt64| has no int64; write it through uint64.
			s := strconv.FormatUint(uint64(1)<<63, 10)
			return appendPoint(b, s, scale)
		}
		q = -q
	}
	return appendPoint(b, strconv.FormatInt(q, 10), scale)
}

func appendPoint(b []byte, s string, scale int) []byte {
	for len(s) <= scale {
		s = "0" + s
	}
	b = append(b, s[:len(s)-scale]...)
	b = append(b, '.')
	return append(b, s[len(s)-scale:]...)
}

// RoundScaled is q units of 10^-scale rounded half up to a whole number, for front doors that
// can show only integers.
func RoundScaled(q int64, scale int) int64 {
	if scale == 0 {
		return q
	}
	p := pow10[scale]
	w, r := q/p, q%p
	if r < 0 {
		r, w = r+p, w-1
	}
	if 2*r >= p {
		w++
	}
	return w
}

// jsonKind names the kind of a JSON value that is not a number, for a type error.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// ShownWhole is a quantity of v as a front door of whole units shows it: q itself for a
// variant of scale 0; for a measured one, rounded half up to a whole unit, and at least 1 for
// a line that holds anything (1.250 kg shows 1, 0.2 kg shows 1) so that a line never looks
// empty (docs/dialects.md).
func (v *Variant) ShownWhole(q int64) int64 {
	s := v.Scale()
	if s == 0 {
		return q
	}
	w := RoundScaled(q, s)
	if w < 1 && q > 0 {
		return 1
	}
	return w
}

// Measure is the exact figure of a quantity of a measured variant for people, "1.250 kg";
// "" for a variant of scale 0.
func (v *Variant) Measure(q int64) string {
	s := v.Scale()
	if s == 0 {
		return ""
	}
	out := FormatScaled(q, s)
	if v.Unit != "" {
		out += " " + v.Unit
	}
	return out
}

// MeasuredName is name with the exact quantity of a measured line appended, "Coffee beans
// (1.250 kg)": what a front door of whole units shows in a free-form name, so that the
// shopper sees what the line holds. At scale 0 it is name.
func (v *Variant) MeasuredName(name string, q int64) string {
	if m := v.Measure(q); m != "" {
		return name + " (" + m + ")"
	}
	return name
}

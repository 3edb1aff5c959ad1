// Package money holds amounts as integer counts of a currency's minor units and the ISO 4217
// facts needed to render them. There are no floats here: every amount a shop sees is an exact
// integer, and arithmetic that would overflow int64 is an error instead of a wrong total.
package money

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"golang.org/x/text/currency"
)

// ErrOverflow reports arithmetic whose result does not fit in an int64 count of minor units.
var ErrOverflow = errors.New("money: amount out of range")

// ErrUnknownCurrency reports a code that is not an ISO 4217 currency with minor units.
var ErrUnknownCurrency = errors.New("money: unknown currency")

// Digits come from golang.org/x/text/currency (CLDR's standard rounding, maintained with Go),
// overridden where CLDR departs from ISO 4217: CLDR rounds several currencies to whole units
// for display (IQD, IDR, COP, PKR, RSD, ...), while a shop's books and its payment providers
// count ISO's minor units. money_test.go holds every code x/text knows to the ISO list, and
// each override to being needed.
var isoOverride = map[string]int{
	"AFN": 2, "ALL": 2, "AMD": 2, "COP": 2, "GYD": 2, "IDR": 2, "IQD": 3, "IRR": 2, "KPW": 2,
	"LAK": 2, "LBP": 2, "MGA": 2, "MMK": 2, "MNT": 2, "MRO": 2, "MUR": 2, "PKR": 2, "RSD": 2,
	"SLL": 2, "SOS": 2, "SYP": 2, "TZS": 2, "UZS": 2, "YER": 2,
}

// newerCodes are current ISO 4217 currencies that x/text's table does not know yet, with
// their minor units.
var newerCodes = map[string]int{"VES": 2, "VED": 2, "MRU": 2, "SLE": 2, "ZWG": 2, "UYW": 4}

// noMinorUnit lists ISO codes that are not money a cart can be priced in (funds, metals,
// testing and "no currency" codes), which x/text nonetheless parses.
var noMinorUnit = map[string]bool{
	"XAG": true, "XAU": true, "XPD": true, "XPT": true, "XBA": true, "XBB": true, "XBC": true,
	"XBD": true, "XDR": true, "XSU": true, "XUA": true, "XTS": true, "XXX": true,
}

// Digits returns the number of minor-unit digits of an ISO 4217 currency code (upper case).
func Digits(code string) (int, error) {
	if len(code) != 3 || strings.ToUpper(code) != code || noMinorUnit[code] {
		return 0, fmt.Errorf("%w: %q", ErrUnknownCurrency, code)
	}
	if d, ok := newerCodes[code]; ok {
		return d, nil
	}
	u, err := currency.ParseISO(code)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrUnknownCurrency, code)
	}
	if d, ok := isoOverride[code]; ok {
		return d, nil
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale, nil
}

// Valid reports whether code is a currency carts can be priced in.
func Valid(code string) bool {
	_, err := Digits(code)
	return err == nil
}

// Add returns a+b, or ErrOverflow.
func Add(a, b int64) (int64, error) {
	s := a + b
	if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
		return 0, ErrOverflow
	}
	return s, nil
}

// Mul returns a*b, or ErrOverflow.
func Mul(a, b int64) (int64, error) {
	if a == 0 || b == 0 {
		return 0, nil
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, ErrOverflow
	}
	return p, nil
}

// MulDivHalfUp returns a*num/den rounded half away from zero, computed in 128 bits so that the
// intermediate product cannot overflow. a and num must be non-negative and den positive; it is
// how basis-point rates (tax, percent discounts) are applied to amounts.
func MulDivHalfUp(a, num, den int64) (int64, error) {
	if a < 0 || num < 0 || den <= 0 {
		return 0, fmt.Errorf("money: MulDivHalfUp(%d, %d, %d): negative operand", a, num, den)
	}
	hi, lo := bits.Mul64(uint64(a), uint64(num))
	// Add den/2 for half-up rounding before dividing.
	var carry uint64
	lo, carry = bits.Add64(lo, uint64(den)/2, 0)
	hi += carry
	if hi >= uint64(den) {
		return 0, ErrOverflow
	}
	q, _ := bits.Div64(hi, lo, uint64(den))
	if q > math.MaxInt64 {
		return 0, ErrOverflow
	}
	return int64(q), nil
}

// Format renders an amount of minor units as a decimal string with the currency's digits,
// e.g. 8099 USD is "80.99", 500 JPY is "500", -5 KWD is "-0.005".
func Format(amount int64, code string) (string, error) {
	d, err := Digits(code)
	if err != nil {
		return "", err
	}
	return FormatDigits(amount, d), nil
}

// Number renders an amount of minor units as an exact JSON number in the currency's units,
// without trailing zeros: 120000 INR is 1200, 1250 INR is 12.5, 5 KWD is 0.005. It is how the
// dialects whose seeds write money as numbers (SourceHub's cart_total: 1200) send amounts:
// decimal text from the integer, never a float, so no amount is ever rounded in transit.
func Number(amount int64, code string) (string, error) {
	d, err := Digits(code)
	if err != nil {
		return "", err
	}
	return NumberDigits(amount, d), nil
}

// NumberDigits is Number with d minor-unit digits.
func NumberDigits(amount int64, d int) string {
	s := FormatDigits(amount, d)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// FormatDigits renders amount with d minor-unit digits.
func FormatDigits(amount int64, d int) string {
	neg := amount < 0
	u := uint64(amount)
	if neg {
		u = -u
	}
	s := fmt.Sprintf("%d", u)
	if d > 0 {
		if len(s) <= d {
			s = strings.Repeat("0", d-len(s)+1) + s
		}
		s = s[:len(s)-d] + "." + s[len(s)-d:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

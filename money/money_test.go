package money

import (
	"errors"
	"math"
	"testing"

	"golang.org/x/text/currency"
)

// isoNotTwo lists the ISO 4217 currencies (list one, current) whose minor unit is not two
// digits; every other current code has two.
var isoNotTwo = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// TestDigitsOfEveryCodeFollowISO4217 holds every currency x/text knows as tender somewhere,
// the fund codes and the codes newer than x/text, to ISO's minor units.
func TestDigitsOfEveryCodeFollowISO4217(t *testing.T) {
	codes := []string{"CLF", "UYI", "UYW", "BOV", "CHE", "CHW", "COU", "MXV", "USN"}
	for it := currency.Query(); it.Next(); {
		codes = append(codes, it.Unit().String())
	}
	for code := range newerCodes {
		codes = append(codes, code)
	}
	for _, code := range codes {
		want, ok := isoNotTwo[code]
		if !ok {
			want = 2
		}
		if got, err := Digits(code); err != nil || got != want {
			t.Errorf("Digits(%s) = %d, %v; ISO 4217 says %d", code, got, err, want)
		}
	}
}

// TestOverridesAreNeeded keeps the override table small: each entry departs from x/text.
func TestOverridesAreNeeded(t *testing.T) {
	for code, d := range isoOverride {
		u, err := currency.ParseISO(code)
		if err != nil {
			t.Errorf("%s: x/text does not know it; it belongs in newerCodes", code)
			continue
		}
		if scale, _ := currency.Standard.Rounding(u); scale == d {
			t.Errorf("%s: x/text gives %d digits already; drop the override", code, d)
		}
	}
	for code := range newerCodes {
		if _, err := currency.ParseISO(code); err == nil {
			t.Errorf("%s: x/text knows it now; drop it from newerCodes", code)
		}
	}
}

func TestDigitsFollowISO4217(t *testing.T) {
	tests := []struct {
		code   string
		digits int
	}{
		{"USD", 2}, {"EUR", 2}, {"INR", 2}, {"JPY", 0}, {"KRW", 0}, {"CLP", 0},
		{"KWD", 3}, {"BHD", 3}, {"IQD", 3}, {"TND", 3}, {"IDR", 2}, {"COP", 2},
		{"PKR", 2}, {"RSD", 2}, {"HUF", 2}, {"CLF", 4}, {"VES", 2}, {"MRU", 2}, {"SLE", 2}, {"UYW", 4},
	}
	for _, tt := range tests {
		got, err := Digits(tt.code)
		if err != nil || got != tt.digits {
			t.Errorf("Digits(%s) = %d, %v; want %d", tt.code, got, err, tt.digits)
		}
	}
}

func TestDigitsRejectsWhatIsNotMoney(t *testing.T) {
	for _, code := range []string{"", "usd", "US", "USDD", "XAU", "XXX", "ABC", "XTS"} {
		if _, err := Digits(code); !errors.Is(err, ErrUnknownCurrency) {
			t.Errorf("Digits(%q) error = %v, want ErrUnknownCurrency", code, err)
		}
	}
}

func TestArithmeticReportsOverflow(t *testing.T) {
	if _, err := Add(math.MaxInt64, 1); !errors.Is(err, ErrOverflow) {
		t.Errorf("Add overflow not reported: %v", err)
	}
	if _, err := Add(math.MinInt64, -1); !errors.Is(err, ErrOverflow) {
		t.Errorf("Add underflow not reported: %v", err)
	}
	if got, err := Add(40, 2); err != nil || got != 42 {
		t.Errorf("Add(40,2) = %d, %v", got, err)
	}
	if _, err := Mul(math.MaxInt64/2+1, 2); !errors.Is(err, ErrOverflow) {
		t.Errorf("Mul overflow not reported: %v", err)
	}
	if _, err := Mul(-1, math.MinInt64); !errors.Is(err, ErrOverflow) {
		t.Errorf("Mul(-1, MinInt64) overflow not reported: %v", err)
	}
	if got, err := Mul(8099, 3); err != nil || got != 24297 {
		t.Errorf("Mul(8099,3) = %d, %v", got, err)
	}
}

func TestMulDivHalfUp(t *testing.T) {
	tests := []struct{ a, num, den, want int64 }{
		{1000, 500, 10000, 50}, // 5% of 10.00
		{1010, 500, 10000, 51}, // 50.5 rounds up
		{1009, 500, 10000, 50}, // 50.45 rounds down
		{math.MaxInt64, 10000, 10000, math.MaxInt64},
		{0, 1800, 10000, 0},
	}
	for _, tt := range tests {
		got, err := MulDivHalfUp(tt.a, tt.num, tt.den)
		if err != nil || got != tt.want {
			t.Errorf("MulDivHalfUp(%d,%d,%d) = %d, %v; want %d", tt.a, tt.num, tt.den, got, err, tt.want)
		}
	}
	if _, err := MulDivHalfUp(math.MaxInt64, 3, 1); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflow not reported: %v", err)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		amount int64
		code   string
		want   string
	}{
		{8099, "USD", "80.99"}, {5, "USD", "0.05"}, {0, "USD", "0.00"}, {-5, "KWD", "-0.005"},
		{500, "JPY", "500"}, {1200000, "INR", "12000.00"}, {math.MinInt64, "USD", "-92233720368547758.08"},
	}
	for _, tt := range tests {
		got, err := Format(tt.amount, tt.code)
		if err != nil || got != tt.want {
			t.Errorf("Format(%d, %s) = %q, %v; want %q", tt.amount, tt.code, got, err, tt.want)
		}
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		amount int64
		code   string
		want   string
	}{
		{120000, "INR", "1200"}, {1250, "INR", "12.5"}, {8099, "USD", "80.99"}, {0, "USD", "0"},
		{5, "KWD", "0.005"}, {-310, "USD", "-3.1"}, {500, "JPY", "500"}, {1000, "KWD", "1"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
	}
	for _, tt := range tests {
		got, err := Number(tt.amount, tt.code)
		if err != nil || got != tt.want {
			t.Errorf("Number(%d, %s) = %q, %v; want %q", tt.amount, tt.code, got, err, tt.want)
		}
	}
	if _, err := Number(1, "usd"); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("Number in an unknown currency: %v", err)
	}
}

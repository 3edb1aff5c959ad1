package pricing

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cartd/cartd/cart"
)

// The worked examples in testdata/*.json are carts a person can price by hand: each gives its
// lines, promotions and settings, the arithmetic in words ("work"), and every figure Price must
// produce. testdata/README.md describes the format.

type example struct {
	Name             string                       `json:"name"`
	Work             []string                     `json:"work"`
	Currency         string                       `json:"currency"`
	At               string                       `json:"at"`
	PricesIncludeTax bool                         `json:"prices_include_tax"`
	Shipping         map[string]cart.ShippingRate `json:"shipping"`
	Lines            []exampleLine                `json:"lines"`
	Promotions       []examplePromotion           `json:"promotions"`
	Coupons          []string                     `json:"coupons"`
	Want             exampleWant                  `json:"want"`
}

type exampleLine struct {
	SKU         string        `json:"sku"`
	Product     string        `json:"product"`
	Brand       string        `json:"brand"`
	Sale        string        `json:"sale"`
	Price       int64         `json:"price"`
	RetailPrice int64         `json:"retail_price"`
	Tiers       []exampleTier `json:"tiers"`
	TaxRate     int64         `json:"tax_rate"`
	Quantity    int64         `json:"quantity"`
}

type exampleTier struct {
	MinQuantity int64 `json:"min_quantity"`
	Price       int64 `json:"price"`
}

type examplePromotion struct {
	Code        string           `json:"code"`
	Type        string           `json:"type"`
	Method      string           `json:"method"`
	Rate        int64            `json:"rate"`
	Amount      *int64           `json:"amount"`
	Amounts     map[string]int64 `json:"amounts"`
	MinSubtotal *int64           `json:"min_subtotal"`
	MinQuantity int64            `json:"min_quantity"`
	SKUs        []string         `json:"skus"`
	Products    []string         `json:"products"`
	Brands      []string         `json:"brands"`
	Sales       []string         `json:"sales"`
	StartsAt    string           `json:"starts_at"`
	EndsAt      string           `json:"ends_at"`
	Active      *bool            `json:"active"`
}

type exampleWant struct {
	Subtotal    int64                      `json:"subtotal"`
	Discount    int64                      `json:"discount"`
	Tax         int64                      `json:"tax"`
	Shipping    int64                      `json:"shipping"`
	Total       int64                      `json:"total"`
	RetailTotal int64                      `json:"retail_total"`
	Saved       int64                      `json:"saved"`
	Lines       map[string]exampleWantLine `json:"lines"`
	Promotions  []exampleWantPromotion     `json:"promotions"`
}

type exampleWantLine struct {
	UnitPrice int64 `json:"unit_price"`
	Subtotal  int64 `json:"subtotal"`
	Discount  int64 `json:"discount"`
	Tax       int64 `json:"tax"`
	Total     int64 `json:"total"`
}

type exampleWantPromotion struct {
	Code    string `json:"code"`
	Applied bool   `json:"applied"`
	Amount  int64  `json:"amount"`
	Reason  string `json:"reason"`
}

func parseTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatalf("time %q: %v", s, err)
	}
	return t
}

// input builds the pricing input of an example.
func (ex example) input(tb testing.TB) Input {
	tb.Helper()
	cur := cmpOr(ex.Currency, "USD")
	at := parseTime(tb, cmpOr(ex.At, "2026-03-01T12:00:00Z"))
	s := cart.DefaultSettings()
	s.PricesIncludeTax, s.Shipping = ex.PricesIncludeTax, ex.Shipping
	in := Input{Cart: cart.Cart{Num: 1, Currency: cur, Status: cart.StatusActive}, Settings: s, Now: at, Reserve: true}
	for i, l := range ex.Lines {
		v := cart.Variant{Num: int64(i + 1), ID: "var_" + l.SKU, SKU: l.SKU, Prices: map[string]int64{cur: l.Price},
			TaxRate: l.TaxRate, Active: true, SaleID: l.Sale}
		if l.RetailPrice > 0 {
			v.RetailPrices = map[string]int64{cur: l.RetailPrice}
		}
		for _, t := range l.Tiers {
			v.Tiers = append(v.Tiers, cart.Tier{MinQuantity: t.MinQuantity, Prices: map[string]int64{cur: t.Price}})
		}
		p := cart.Product{Num: int64(i + 1), ID: cmpOr(l.Product, "prod_"+strings.ToLower(l.SKU)), Name: l.SKU, Brand: l.Brand}
		unit, _ := UnitPrice(v, cur, l.Quantity)
		in.Lines = append(in.Lines, cart.Line{Variant: &v, Product: &p,
			Item:  cart.Item{Num: int64(i + 1), CartNum: 1, VariantNum: v.Num, Quantity: l.Quantity, ReservedQuantity: l.Quantity, UnitPrice: unit, AddedUnitPrice: unit},
			Stock: cart.Stock{SKU: l.SKU, OnHand: 1_000_000, Reserved: l.Quantity}})
	}
	byCode := map[string]cart.Promotion{}
	for i, ep := range ex.Promotions {
		p := cart.Promotion{Num: int64(i + 1), Code: ep.Code, Name: ep.Code, Type: cart.PromotionType(ep.Type),
			Method: cart.Method(cmpOr(ep.Method, string(cart.Manual))), Rate: ep.Rate, Amounts: ep.Amounts,
			MinQuantity: ep.MinQuantity, SKUs: ep.SKUs, ProductIDs: ep.Products, Brands: ep.Brands, SaleIDs: ep.Sales,
			StartsAt: parseTime(tb, ep.StartsAt), EndsAt: parseTime(tb, ep.EndsAt), Active: ep.Active == nil || *ep.Active}
		if ep.Amount != nil {
			p.Amounts = map[string]int64{cur: *ep.Amount}
		}
		if ep.MinSubtotal != nil {
			p.MinSubtotal = map[string]int64{cur: *ep.MinSubtotal}
		}
		byCode[p.Code] = p
		if p.Method == cart.Auto {
			in.Promotions = append(in.Promotions, p)
		}
	}
	for i, code := range ex.Coupons {
		in.Coupons = append(in.Coupons, cart.Coupon{CartNum: 1, Code: code, AddedAt: at.Add(time.Duration(i-100) * time.Minute),
			Promotion: byCode[code]})
	}
	return in
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// figures is what an example checks of a priced cart.
func figures(v cart.View) exampleWant {
	w := exampleWant{Subtotal: v.Subtotal, Discount: v.Discount, Tax: v.Tax, Shipping: v.Shipping, Total: v.Total,
		RetailTotal: v.RetailTotal, Saved: v.Saved, Lines: map[string]exampleWantLine{}}
	for _, lv := range v.Lines {
		w.Lines[lv.Variant.SKU] = exampleWantLine{UnitPrice: lv.UnitPrice, Subtotal: lv.Subtotal, Discount: lv.Discount, Tax: lv.Tax, Total: lv.Total}
	}
	for _, p := range v.Promotions {
		w.Promotions = append(w.Promotions, exampleWantPromotion{Code: p.Promotion.Code, Applied: p.Applied, Amount: p.Amount, Reason: p.Reason})
	}
	return w
}

func (w exampleWant) String() string {
	if len(w.Lines) == 0 {
		w.Lines = nil
	}
	if len(w.Promotions) == 0 {
		w.Promotions = nil
	}
	b, _ := json.MarshalIndent(struct {
		Subtotal    int64                      `json:"subtotal"`
		Discount    int64                      `json:"discount"`
		Tax         int64                      `json:"tax"`
		Shipping    int64                      `json:"shipping"`
		Total       int64                      `json:"total"`
		RetailTotal int64                      `json:"retail_total"`
		Saved       int64                      `json:"saved"`
		Lines       map[string]exampleWantLine `json:"lines"`
		Promotions  []exampleWantPromotion     `json:"promotions"`
	}{w.Subtotal, w.Discount, w.Tax, w.Shipping, w.Total, w.RetailTotal, w.Saved, w.Lines, w.Promotions}, "", "  ")
	return string(b)
}

func TestWorkedExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no worked examples in testdata (%v)", err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var examples []example
		if err := dec.Decode(&examples); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, ex := range examples {
			name := strings.TrimSuffix(filepath.Base(f), ".json") + "/" + ex.Name
			if seen[name] || len(ex.Work) == 0 {
				t.Fatalf("%s: examples need a unique name and their arithmetic in work", name)
			}
			seen[name] = true
			t.Run(name, func(t *testing.T) {
				in := ex.input(t)
				v, err := Price(in)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := figures(v).String(), ex.Want.String(); got != want {
					t.Errorf("got\n%s\nwant\n%s\nwork:\n  %s", got, want, strings.Join(ex.Work, "\n  "))
				}
				// The same cart with its lines, coupons and promotions in reverse order.
				rev := in
				rev.Lines, rev.Promotions = slices.Clone(in.Lines), slices.Clone(in.Promotions)
				slices.Reverse(rev.Lines)
				slices.Reverse(rev.Promotions)
				v2, err := Price(rev)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := figures(v2).String(), figures(v).String(); got != want {
					t.Errorf("in reverse order the figures differ:\n%s\nvs\n%s", got, want)
				}
			})
		}
	}
}

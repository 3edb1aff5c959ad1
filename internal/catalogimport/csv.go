package catalogimport

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/money"
)

// The CSV columns. A catalog CSV has one row per variant, the rows of one product consecutive
// (they become one product write, as one PUT /v1/products/{id}); a stock CSV has just the
// columns sku and on_hand, one SKU per row.
const (
	colProductID   = "product_id"
	colProductName = "product_name"
	colVariantID   = "variant_id"
	colSKU         = "sku"
	colOnHand      = "on_hand"
	prefixPrice    = "price_"
	prefixRetail   = "retail_price_"
	prefixOption   = "option:"
)

// productColumns are the product's own fields: every row of a product gives the same value,
// or leaves the cell empty.
var productColumns = []string{colProductName, "brand", "category", "description", "image_url", "tax_code"}

// variantColumns are the other plain columns.
var variantColumns = []string{colVariantID, colSKU, "variant_name", "tax_rate", "weight_grams", "active", "returnable", "sale_id", colOnHand,
	colRuleMin, colRuleMax, colRuleIncrement, colRuleMaxPerCustomer, colScale, colUnit}

// The quantity rule columns: a row with any of them set gives its variant a rule of its own
// (docs/quantity-rules.md); a catalog CSV has no product-wide rule.
const (
	colRuleMin            = "quantity_min"
	colRuleMax            = "quantity_max"
	colRuleIncrement      = "quantity_increment"
	colRuleMaxPerCustomer = "max_per_customer"
)

// The measured quantity columns (docs/measured-quantities.md): a row's quantity_scale makes
// its rule columns and on_hand decimals of that scale; a tier column price_CUR@N still names
// N whole units.
const (
	colScale = "quantity_scale"
	colUnit  = "unit"
)

// column is what one header cell means.
type column struct {
	name     string // the header as written
	kind     int
	currency string // price columns
	minQty   int64  // tier price columns: price_USD@10
	option   string // option:NAME
}

const (
	kindField = iota
	kindPrice
	kindRetail
	kindTier
	kindOption
)

type csvDecoder struct {
	r       *csv.Reader
	cols    []column
	index   map[string]int // plain column name -> position
	stock   bool           // a stock CSV: sku and on_hand only
	started bool
	// pending is a record read ahead: the first row of the next product.
	pending     []string
	pendingLine int
	pendingErr  *LineError
	// seen maps each product id to its first line, to refuse a product split over the file.
	seen map[string]int
}

func newCSVDecoder(r io.Reader) *csvDecoder {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted here, to say which line is short
	cr.ReuseRecord = false
	return &csvDecoder{r: cr, seen: map[string]int{}}
}

// header reads and checks the header row. A header the import cannot work with stops it.
func (d *csvDecoder) header() error {
	rec, err := d.r.Read()
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	if err != nil {
		return cart.Errorf(cart.Invalid, "invalid_header", "line 1: the CSV header cannot be read: %v", err)
	}
	if len(rec) > 0 {
		rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
	}
	d.index = map[string]int{}
	bad := func(format string, args ...any) error {
		return cart.Errorf(cart.Invalid, "invalid_header", "line 1: "+format, args...)
	}
	for i, h := range rec {
		name := strings.TrimSpace(h)
		c := column{name: name}
		switch {
		case strings.HasPrefix(name, prefixOption):
			c.kind, c.option = kindOption, strings.TrimPrefix(name, prefixOption)
			if c.option == "" {
				return bad("column %d: an option column is option:NAME", i+1)
			}
		case strings.HasPrefix(name, prefixRetail):
			c.kind, c.currency = kindRetail, strings.TrimPrefix(name, prefixRetail)
		case strings.HasPrefix(name, prefixPrice):
			c.kind, c.currency = kindPrice, strings.TrimPrefix(name, prefixPrice)
			if cur, min, ok := strings.Cut(c.currency, "@"); ok {
				n, err := strconv.ParseInt(min, 10, 64)
				if err != nil || n < 2 {
					return bad("column %q: a tier price column is price_CUR@N, N a whole number of units from 2", name)
				}
				c.kind, c.currency, c.minQty = kindTier, cur, n
			}
		default:
			c.kind = kindField
			known := name == colProductID
			for _, k := range append(productColumns, variantColumns...) {
				known = known || name == k
			}
			if !known {
				return bad("unknown column %q", name)
			}
		}
		if c.kind == kindPrice || c.kind == kindRetail || c.kind == kindTier {
			if !money.Valid(c.currency) {
				return bad("column %q: %q is not an ISO 4217 currency code", name, c.currency)
			}
		}
		for _, prev := range d.cols {
			if prev.name == name {
				return bad("column %q appears twice", name)
			}
		}
		if c.kind == kindField {
			d.index[name] = i
		}
		d.cols = append(d.cols, c)
	}
	_, hasProduct := d.index[colProductID]
	switch {
	case hasProduct:
		for _, req := range []string{colVariantID, colSKU} {
			if _, ok := d.index[req]; !ok {
				return bad("column %s is required with product_id", req)
			}
		}
	case len(d.cols) == 2 && d.has(colSKU) && d.has(colOnHand):
		d.stock = true
	default:
		return bad("a catalog CSV needs product_id, variant_id and sku; a stock CSV has just sku and on_hand")
	}
	return nil
}

func (d *csvDecoder) has(name string) bool { _, ok := d.index[name]; return ok }

// read returns the next record and its line. A record with the wrong number of fields comes
// with its LineError (and still says which product it belongs to); one that cannot be parsed
// at all is only a LineError.
func (d *csvDecoder) read() ([]string, int, *LineError, error) {
	rec, err := d.r.Read()
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return nil, 0, nil, io.EOF
	case errors.As(err, &pe):
		return nil, pe.StartLine, &LineError{Line: pe.StartLine, Code: "malformed_row", Message: fmt.Sprintf("the CSV row cannot be read: %v", pe.Err)}, nil
	case err != nil:
		return nil, 0, nil, fmt.Errorf("import: read CSV: %w", err)
	}
	line, _ := d.r.FieldPos(0)
	if len(rec) != len(d.cols) {
		return rec, line, &LineError{Line: line, Code: "malformed_row", Message: fmt.Sprintf("the row has %d fields, the header %d", len(rec), len(d.cols))}, nil
	}
	return rec, line, nil, nil
}

// productOf is the product id of a record, "" when it has none.
func (d *csvDecoder) productOf(rec []string) string {
	if i := d.index[colProductID]; i < len(rec) {
		return strings.TrimSpace(rec[i])
	}
	return ""
}

// next returns the next product (its consecutive rows), stock row, or bad line.
func (d *csvDecoder) next() (unit, error) {
	if !d.started {
		d.started = true
		if err := d.header(); err != nil {
			return unit{}, err
		}
	}
	rec, line, bad := d.pending, d.pendingLine, d.pendingErr
	d.pending, d.pendingErr, d.pendingLine = nil, nil, 0
	if line == 0 {
		var err error
		if rec, line, bad, err = d.read(); err != nil {
			return unit{}, err
		}
	}
	if d.stock || rec == nil {
		if bad != nil {
			return unit{lines: []int{line}, errs: []LineError{*bad}}, nil
		}
		return d.stockUnit(rec, line), nil
	}
	id := d.productOf(rec)
	if id == "" {
		if bad != nil {
			return unit{lines: []int{line}, errs: []LineError{*bad}}, nil
		}
		return badUnit(line, "missing_field", "product_id is required"), nil
	}
	g := group{recs: [][]string{rec}, lines: []int{line}}
	if bad != nil {
		g.errs = append(g.errs, *bad)
	}
	for {
		next, nextLine, nextBad, err := d.read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return unit{}, err
		}
		if next == nil || d.productOf(next) != id {
			d.pending, d.pendingLine, d.pendingErr = next, nextLine, nextBad
			break
		}
		g.recs, g.lines = append(g.recs, next), append(g.lines, nextLine)
		if nextBad != nil {
			g.errs = append(g.errs, *nextBad)
		}
	}
	if first, ok := d.seen[id]; ok {
		u := unit{lines: g.lines}
		for _, l := range g.lines {
			u.errs = append(u.errs, LineError{Line: l, Code: "product_split",
				Message: fmt.Sprintf("product %q already appeared from line %d: the rows of a product must be consecutive", id, first)})
		}
		return u, nil
	}
	d.seen[id] = line
	return d.productUnit(id, g), nil
}

// group is the consecutive records of one product, with the errors of those that are
// malformed.
type group struct {
	recs  [][]string
	lines []int
	errs  []LineError
}

func (d *csvDecoder) stockUnit(rec []string, line int) unit {
	sku := strings.TrimSpace(rec[d.index[colSKU]])
	n, err := parseDecimal(rec[d.index[colOnHand]], colOnHand)
	switch {
	case err != nil:
		return badUnit(line, "invalid_value", "%v", err)
	case n == nil:
		return badUnit(line, "missing_field", "on_hand is required")
	}
	return unit{lines: []int{line}, row: engine.ImportRow{Stock: []engine.StockLevel{{SKU: sku, OnHand: *n}}}}
}

// productUnit builds a product from its rows: the product's fields from its first row (later
// rows repeat them or leave them empty), one variant per row.
func (d *csvDecoder) productUnit(id string, g group) unit {
	u := unit{lines: g.lines, errs: g.errs}
	malformed := map[int]bool{}
	for _, e := range g.errs {
		malformed[e.Line] = true
	}
	bad := func(line int, code, format string, args ...any) {
		u.errs = append(u.errs, LineError{Line: line, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	p := cart.Product{ID: id}
	fields := map[string]*string{colProductName: &p.Name, "brand": &p.Brand, "category": &p.Category,
		"description": &p.Description, "image_url": &p.ImageURL, "tax_code": &p.TaxCode}
	firstLine := map[string]int{}
	var stock []engine.StockLevel
	for r, rec := range g.recs {
		line := g.lines[r]
		if malformed[line] {
			continue
		}
		cell := func(name string) string {
			if i, ok := d.index[name]; ok {
				return rec[i]
			}
			return ""
		}
		for _, name := range productColumns {
			v := cell(name)
			if name == colProductName {
				v = strings.TrimSpace(v)
			}
			switch dst := fields[name]; {
			case v == "":
			case *dst == "":
				*dst, firstLine[name] = v, line
			case *dst != v:
				bad(line, "conflicting_product_field", "%s %q differs from %q on line %d, the same product's", name, v, *dst, firstLine[name])
			}
		}
		v := cart.Variant{ID: strings.TrimSpace(cell(colVariantID)), SKU: strings.TrimSpace(cell(colSKU)),
			Name: cell("variant_name"), SaleID: strings.TrimSpace(cell("sale_id")), Active: true, Returnable: true}
		for _, f := range []struct {
			name string
			dst  *int64
		}{{"tax_rate", &v.TaxRate}, {"weight_grams", &v.WeightGrams}} {
			n, err := parseInt(cell(f.name), f.name)
			if err != nil {
				bad(line, "invalid_value", "%v", err)
			} else if n != nil {
				*f.dst = *n
			}
		}
		v.Unit = strings.TrimSpace(cell(colUnit))
		scale, err := parseInt(cell(colScale), colScale)
		switch {
		case err != nil:
			bad(line, "invalid_value", "%v", err)
		case scale != nil && (*scale < 0 || *scale > cart.MaxScale):
			bad(line, "invalid_value", "%s must be 0 to %d", colScale, cart.MaxScale)
		case scale != nil:
			v.QuantityScale = uint8(*scale)
		}
		var rule cart.QuantityRule
		for _, f := range []struct {
			name string
			dst  *int64
		}{{colRuleMin, &rule.Min}, {colRuleMax, &rule.Max}, {colRuleIncrement, &rule.Increment}, {colRuleMaxPerCustomer, &rule.MaxPerCustomer}} {
			d, err := parseDecimal(cell(f.name), f.name)
			if err != nil {
				bad(line, "invalid_value", "%v", err)
			} else if d != nil {
				n, err := d.Scaled(v.Scale(), f.name)
				if err != nil {
					bad(line, cart.AsError(err).Reason, "%s", cart.AsError(err).Message)
					continue
				}
				*f.dst = n
				if v.QuantityRule == nil {
					v.QuantityRule = &rule
				}
			}
		}
		for _, f := range []struct {
			name string
			dst  *bool
		}{{"active", &v.Active}, {"returnable", &v.Returnable}} {
			if s := strings.TrimSpace(cell(f.name)); s != "" {
				b, err := strconv.ParseBool(s)
				if err != nil {
					bad(line, "invalid_value", "%s must be true or false, not %q", f.name, s)
				}
				*f.dst = err != nil || b
			}
		}
		tiers := map[int64]map[string]int64{}
		var tierOrder []int64
		for i, c := range d.cols {
			if c.kind == kindField {
				continue
			}
			raw := rec[i]
			if c.kind == kindOption {
				if raw != "" {
					v.Options = append(v.Options, cart.Option{Name: c.option, Value: raw})
				}
				continue
			}
			n, err := parseInt(raw, c.name)
			if err != nil {
				bad(line, "invalid_value", "%v", err)
				continue
			}
			if n == nil {
				continue
			}
			switch c.kind {
			case kindPrice:
				v.Prices = setPrice(v.Prices, c.currency, *n)
			case kindRetail:
				v.RetailPrices = setPrice(v.RetailPrices, c.currency, *n)
			case kindTier:
				if tiers[c.minQty] == nil {
					tierOrder = append(tierOrder, c.minQty)
				}
				tiers[c.minQty] = setPrice(tiers[c.minQty], c.currency, *n)
			}
		}
		for _, q := range tierOrder {
			v.Tiers = append(v.Tiers, cart.Tier{MinQuantity: cart.ScaleLimit(q, v.Scale()), Prices: tiers[q]})
		}
		onHand, err := parseDecimal(cell(colOnHand), colOnHand)
		if err != nil {
			bad(line, "invalid_value", "%v", err)
		} else if onHand != nil {
			stock = append(stock, engine.StockLevel{SKU: v.SKU, OnHand: *onHand})
			u.stockLines = append(u.stockLines, line)
		}
		p.Variants = append(p.Variants, v)
	}
	u.row = engine.ImportRow{Product: &p, Stock: stock}
	return u
}

func setPrice(m map[string]int64, currency string, amount int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	m[currency] = amount
	return m
}

// parseInt reads an integer cell; an empty cell is nil (not given).
// parseDecimal reads a quantity cell exactly (cart.ParseDecimal); empty is nil.
func parseDecimal(s, column string) (*cart.Decimal, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	d := cart.ParseDecimal([]byte(s))
	if d.Bad != 0 {
		return nil, fmt.Errorf("%s must be a number such as 12 or 1.25, not %q", column, s)
	}
	return &d, nil
}

func parseInt(s, column string) (*int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if strings.ContainsAny(s, ".,") && (strings.HasPrefix(column, prefixPrice) || strings.HasPrefix(column, prefixRetail)) {
			return nil, fmt.Errorf("%s must be a whole number of minor units (8099 for 80.99), not %q", column, s)
		}
		return nil, fmt.Errorf("%s must be a whole number, not %q", column, s)
	}
	return &n, nil
}

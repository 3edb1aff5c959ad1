package catalogimport

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/productjson"
	"github.com/cartd/cartd/internal/strictjson"
)

// MaxLine bounds one NDJSON line (a product with 500 variants fits with room); a longer line
// is a bad row, skipped to its end.
const MaxLine = 4 << 20

// The NDJSON rows. A product line is the body of PUT /v1/products/{id} with its "id" and
// "type": "product"; each variant may carry "on_hand", its SKU's absolute stock, set in the
// same transaction as the product. A stock line is the body of PUT /v1/inventory/{sku} with
// its "sku" and "type": "stock".
type (
	ndjsonType struct {
		Type *string `json:"type"`
	}
	// ndjsonProduct's Variants shadow those of the embedded body, adding on_hand.
	ndjsonProduct struct {
		Type string `json:"type"`
		productjson.Product
		Variants []ndjsonVariant `json:"variants"`
	}
	ndjsonVariant struct {
		productjson.Variant
		OnHand *cart.Decimal `json:"on_hand"`
	}
	ndjsonStock struct {
		Type   string        `json:"type"`
		SKU    *string       `json:"sku"`
		OnHand *cart.Decimal `json:"on_hand"`
	}
)

type ndjsonDecoder struct {
	r    *bufio.Reader
	line int
}

func newNDJSONDecoder(r io.Reader) *ndjsonDecoder {
	return &ndjsonDecoder{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the unit of the next line that is not blank.
func (d *ndjsonDecoder) next() (unit, error) {
	for {
		raw, tooLong, err := d.readLine()
		if err != nil && (!errors.Is(err, io.EOF) || len(raw) == 0 && !tooLong) {
			if !errors.Is(err, io.EOF) {
				err = fmt.Errorf("import: read line %d: %w", d.line+1, err)
			}
			return unit{}, err
		}
		d.line++
		if d.line == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		}
		if tooLong {
			return badUnit(d.line, "line_too_long", "the line is over %d bytes", MaxLine), nil
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			if errors.Is(err, io.EOF) {
				return unit{}, io.EOF
			}
			continue
		}
		return decodeNDJSONLine(raw, d.line), nil
	}
}

// readLine reads one line without its newline, at most MaxLine bytes of it; a longer one is
// read to its end and reported too long.
func (d *ndjsonDecoder) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > MaxLine+1 {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(buf, []byte("\n")), tooLong, err
	}
}

// decodeNDJSONLine decodes one non-blank line.
func decodeNDJSONLine(raw []byte, line int) unit {
	if raw[0] != '{' {
		return badUnit(line, "malformed_row", "the line must be a JSON object")
	}
	var t ndjsonType
	if err := json.Unmarshal(raw, &t); err != nil {
		return errUnit(line, strictjson.Explain(err, "the line", "malformed_row"))
	}
	switch {
	case t.Type == nil:
		return badUnit(line, "missing_field", `type is required: "product" or "stock"`)
	case *t.Type == "product":
		var req ndjsonProduct
		if err := strictjson.Decode(raw, &req, "the line", "malformed_row"); err != nil {
			return errUnit(line, err)
		}
		return productUnit(req, line)
	case *t.Type == "stock":
		var req ndjsonStock
		if err := strictjson.Decode(raw, &req, "the line", "malformed_row"); err != nil {
			return errUnit(line, err)
		}
		switch {
		case req.SKU == nil:
			return badUnit(line, "missing_field", "sku is required")
		case req.OnHand == nil:
			return badUnit(line, "missing_field", "on_hand is required")
		}
		return unit{lines: []int{line}, row: engine.ImportRow{Stock: []engine.StockLevel{{SKU: *req.SKU, OnHand: *req.OnHand}}}}
	}
	return badUnit(line, "invalid_type", `type must be "product" or "stock", not %q`, *t.Type)
}

// productUnit turns a product line into its row as PUT /v1/products/{id} reads its body:
// active and returnable default to true.
func productUnit(req ndjsonProduct, line int) unit {
	if req.ID == nil {
		return badUnit(line, "missing_field", "id is required")
	}
	var stock []engine.StockLevel
	var variants []cart.Variant
	for i, v := range req.Variants {
		cv, err := v.Cart(i)
		if err != nil {
			return errUnit(line, err)
		}
		variants = append(variants, cv)
		if v.OnHand != nil {
			stock = append(stock, engine.StockLevel{SKU: v.SKU, OnHand: *v.OnHand})
		}
	}
	p, err := req.Product.Cart(*req.ID, variants)
	if err != nil {
		return errUnit(line, err)
	}
	return unit{lines: []int{line}, row: engine.ImportRow{Product: &p, Stock: stock}}
}

func badUnit(line int, code, format string, args ...any) unit {
	return unit{lines: []int{line}, errs: []LineError{{Line: line, Code: code, Message: fmt.Sprintf(format, args...)}}}
}

func errUnit(line int, err error) unit {
	e := cart.AsError(err)
	return unit{lines: []int{line}, errs: []LineError{{Line: line, Code: e.Reason, Message: e.Message}}}
}

// Package catalogimport loads a catalog (products, variants, prices and stock) from NDJSON or
// CSV into the engine in batches: `cartd import FILE` and POST /v1/catalog/import. It only
// reads and groups rows; every rule (what a valid product is, how stock is set against what
// carts hold, what counts as unchanged) is the engine's (engine.ImportCatalog).
//
// A row is all or nothing and a bad row never stops the import: it is reported with its line
// number and the others go on. Re-importing a file changes nothing: rows already as given are
// counted unchanged, and nothing is written for them.
package catalogimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// Format is the syntax of an import.
type Format string

// The formats.
const (
	NDJSON Format = "ndjson"
	CSV    Format = "csv"
)

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case NDJSON, CSV:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want ndjson or csv", s)
}

// FormatOf guesses a file's format from its extension: .ndjson, .jsonl and .json are NDJSON,
// .csv is CSV.
func FormatOf(name string) (Format, bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".ndjson", ".jsonl", ".json":
		return NDJSON, true
	case ".csv":
		return CSV, true
	}
	return "", false
}

// DefaultBatch is how many rows go in one transaction unless told otherwise: big enough that
// 10,000 variants import in seconds, small enough that a running server's writes wait for
// one batch only briefly.
const DefaultBatch = 500

// MaxBatch is the largest batch Options.Batch may ask for; larger values are lowered to it.
// With a CSV product of engine.MaxVariants rows running over, a batch stays within
// engine.MaxImportBatch.
const MaxBatch = 2000

// LineError is a bad row: its line in the file (the first line is 1, a CSV header included),
// a stable code and what is wrong.
type LineError struct {
	Line    int    `json:"line"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e LineError) String() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// Summary counts what an import did. Rows counts the rows read (an NDJSON line, or a CSV line
// after the header); each is imported (something was written), unchanged (it was already as
// given) or bad (one entry of Errors).
type Summary struct {
	Rows      int         `json:"rows"`
	Imported  int         `json:"imported"`
	Unchanged int         `json:"unchanged"`
	Errors    []LineError `json:"errors"`
}

// Bad is the number of rows that were not imported.
func (s Summary) Bad() int { return len(s.Errors) }

// Options tune an import.
type Options struct {
	Format Format
	// Batch is the number of rows per transaction; 0 means DefaultBatch. The rows of one CSV
	// product are never split, so a batch may run over by one product.
	Batch int
	// OnError, if set, hears of each bad row as soon as its batch is done, in file order.
	OnError func(LineError)
	// OnBatch, if set, is called after each batch with the running summary.
	OnBatch func(Summary)
}

// unit is what the decoders yield: one engine row with the lines it came from, or the
// reasons it cannot be imported.
type unit struct {
	lines []int // the row's lines: one for NDJSON, one per variant for a CSV product
	// stockLines are the lines of row.Stock's levels, one each (CSV products; else nil).
	stockLines []int
	row        engine.ImportRow
	errs       []LineError // decoding errors; a unit with any is not imported
}

// decoder reads units; io.EOF ends the input, and any other error stops the import (a bad
// CSV header, a read error).
type decoder interface {
	next() (unit, error)
}

// Import reads rows from r and writes them through eng in batches, as principal p (scope
// catalog:write, checked before anything is read). It returns the summary of what was done;
// an error means the import stopped (a bad header, a read or database error): the batches
// written before it stay, and running the import again completes it. An input with nothing
// in it is Malformed.
func Import(ctx context.Context, eng *engine.Engine, p auth.Principal, r io.Reader, opt Options) (Summary, error) {
	var sum Summary
	if _, err := eng.ImportCatalog(ctx, p, nil); err != nil {
		return sum, err
	}
	if opt.Batch <= 0 {
		opt.Batch = DefaultBatch
	}
	opt.Batch = min(opt.Batch, MaxBatch)
	cr := &countingReader{r: r}
	var dec decoder
	switch opt.Format {
	case NDJSON:
		dec = newNDJSONDecoder(cr)
	case CSV:
		dec = newCSVDecoder(cr)
	default:
		return sum, fmt.Errorf("import: unknown format %q", opt.Format)
	}
	var batch []unit
	rows := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := importBatch(ctx, eng, p, batch, &sum, opt.OnError)
		batch, rows = batch[:0], 0
		if err == nil && opt.OnBatch != nil {
			opt.OnBatch(sum)
		}
		return err
	}
	for {
		u, err := dec.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return sum, ferr
			}
			return sum, err
		}
		batch = append(batch, u)
		if rows += len(u.lines); rows >= opt.Batch {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	if err := flush(); err != nil {
		return sum, err
	}
	if !cr.nonBlank {
		return sum, cart.Errorf(cart.Malformed, "empty_import", "the import is empty: send NDJSON lines or a CSV header and rows")
	}
	return sum, nil
}

// importBatch writes the importable units of a batch in one engine call and accounts for
// every unit's lines in sum, in file order.
func importBatch(ctx context.Context, eng *engine.Engine, p auth.Principal, batch []unit, sum *Summary, onError func(LineError)) error {
	var rows []engine.ImportRow
	for _, u := range batch {
		if len(u.errs) == 0 {
			rows = append(rows, u.row)
		}
	}
	results, err := eng.ImportCatalog(ctx, p, rows)
	if err != nil {
		return err
	}
	report := func(e LineError) {
		sum.Errors = append(sum.Errors, e)
		if onError != nil {
			onError(e)
		}
	}
	next := 0
	for _, u := range batch {
		sum.Rows += len(u.lines)
		errs := u.errs
		if len(errs) == 0 {
			res := results[next]
			next++
			switch {
			case res.Err != nil:
				errs = []LineError{rowError(u, res.Err)}
			case res.Changed:
				sum.Imported += len(u.lines)
				continue
			default:
				sum.Unchanged += len(u.lines)
				continue
			}
		}
		for _, e := range rejectedLines(u, errs) {
			report(e)
		}
	}
	return nil
}

// fieldIndex finds the variant or stock level an engine field error names
// ("variants[3].price", "stock[1].on_hand").
var fieldIndex = regexp.MustCompile(`^(variants|stock)\[(\d+)\]\.?`)

// rowError places the engine's reason for refusing a row on a line: for a CSV product, the
// line of the variant or stock level its first field error names, without the prefix the line
// makes redundant.
func rowError(u unit, err error) LineError {
	e := cart.AsError(err)
	le := LineError{Line: u.lines[0], Code: e.Reason, Message: e.Message}
	if len(u.lines) == 1 || len(e.Fields) == 0 {
		return le
	}
	m := fieldIndex.FindStringSubmatch(e.Fields[0].Field)
	if m == nil {
		return le
	}
	lines := u.lines
	if m[1] == "stock" {
		lines = u.stockLines
	}
	if i, _ := strconv.Atoi(m[2]); i < len(lines) {
		le.Line = lines[i]
		field := strings.TrimPrefix(e.Fields[0].Field, m[0])
		le.Message = e.Fields[0].Message
		if field != "" && !strings.HasPrefix(le.Message, field) {
			le.Message = field + ": " + le.Message
		}
	}
	return le
}

// rejectedLines names every line of a refused unit once: the lines at fault with their
// reasons, the other lines of the same CSV product as rejected with it.
func rejectedLines(u unit, errs []LineError) []LineError {
	at := make(map[int]bool, len(errs))
	for _, e := range errs {
		at[e.Line] = true
	}
	out := make([]LineError, 0, len(u.lines))
	first := errs[0]
	for _, line := range u.lines {
		if at[line] {
			for _, e := range errs {
				if e.Line == line {
					out = append(out, e)
					break
				}
			}
			continue
		}
		out = append(out, LineError{Line: line, Code: "product_rejected",
			Message: fmt.Sprintf("not imported: its product is refused for line %d (%s)", first.Line, first.Message)})
	}
	for _, e := range errs {
		if !slices.Contains(u.lines, e.Line) {
			out = append(out, e) // an error placed off the unit's lines: still reported
		}
	}
	return out
}

// countingReader notes whether anything but white space was read, so that an empty upload
// is told apart from one whose rows were all refused.
type countingReader struct {
	r        io.Reader
	nonBlank bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if !c.nonBlank {
		for _, b := range p[:n] {
			if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
				c.nonBlank = true
				break
			}
		}
	}
	return n, err
}

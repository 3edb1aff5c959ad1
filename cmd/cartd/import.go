package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/catalogimport"
)

// errBadRows is what importCatalog returns when the import ran to its end but some rows were
// refused (each already reported): cartd exits with status 2, so a script can tell it from a
// failure to import at all (status 1).
var errBadRows = errors.New("some rows were not imported")

// operator is who `cartd import` acts as: whoever may open the database may change the
// catalog, as with `cartd keys create`.
func operator() auth.Principal { return auth.Principal{Scopes: []auth.Scope{auth.Admin}} }

// importCatalog is `cartd import [--db ...] [--format ndjson|csv] [--batch N] FILE`: it loads
// FILE ("-" for standard input) into the database directly, also while cartd serves from it.
func importCatalog(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import")
	c := operatorConfig(fs, getenv)
	format := fs.String("format", "", "ndjson or csv; by default from FILE's extension (.ndjson, .jsonl, .json, .csv)")
	batch := fs.Int("batch", catalogimport.DefaultBatch, fmt.Sprintf("rows per transaction, 1 to %d", catalogimport.MaxBatch))
	files, err := parseArgs(fs, `cartd import [--db DB] [--format ndjson|csv] [--batch N] FILE

Loads products, variants and stock from FILE ("-" for standard input) straight into the
database, also while cartd serves it. Exits 2 if some rows were refused (each is reported).`, args, stdout)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return errors.New("import takes exactly one FILE (usage: cartd import [flags] FILE)")
	}
	if *batch < 1 || *batch > catalogimport.MaxBatch {
		return fmt.Errorf("--batch must be 1 to %d", catalogimport.MaxBatch)
	}
	path := files[0]
	f, total, err := openImport(path, *format)
	if err != nil {
		return err
	}

	in := io.Reader(os.Stdin)
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer file.Close()
		in = file
	}
	st, err := openExisting(ctx, *c)
	if err != nil {
		return err
	}
	defer st.Close()
	eng := engine.New(st, engine.Config{})

	pr := newProgress(stderr, total, time.Now)
	sum, err := catalogimport.Import(ctx, eng, operator(), in, catalogimport.Options{
		Format:  f,
		Batch:   *batch,
		OnError: pr.badLine,
		OnBatch: pr.update,
	})
	pr.done(sum)
	elapsed := time.Since(pr.start)
	var refused *cart.Error
	switch {
	case errors.As(err, &refused) && refused.Code != cart.Internal && refused.Code != cart.Unavailable:
		return fmt.Errorf("import %s: %s", path, refused.Message) // the file, not the database
	case err != nil:
		return fmt.Errorf("import %s: stopped after %d rows (run it again to complete it: imported rows are unchanged the second time): %w",
			path, sum.Rows, err)
	}
	fmt.Fprintf(stdout, "%s: %d rows: %d imported, %d unchanged, %d bad in %s (%.0f rows/s)\n",
		path, sum.Rows, sum.Imported, sum.Unchanged, sum.Bad(), elapsed.Round(time.Millisecond), rate(sum.Rows, elapsed))
	if sum.Bad() > 0 {
		return errBadRows
	}
	return nil
}

// openImport settles the format and counts FILE's rows for the progress bar (0 when unknown:
// standard input). The count is of non-blank lines, less a CSV's header: a CSV field holding
// a line break makes it an overestimate, which the bar survives.
func openImport(path, format string) (catalogimport.Format, int, error) {
	var f catalogimport.Format
	if format != "" {
		var err error
		if f, err = catalogimport.ParseFormat(format); err != nil {
			return "", 0, fmt.Errorf("--format: %w", err)
		}
	} else if guessed, ok := catalogimport.FormatOf(path); ok {
		f = guessed
	} else {
		return "", 0, fmt.Errorf("import: cannot tell the format of %q from its name: give --format ndjson or csv", path)
	}
	if path == "-" {
		return f, 0, nil
	}
	file, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("import: %w", err)
	}
	defer file.Close()
	rows := 0
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), catalogimport.MaxLine+1)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			rows++
		}
	}
	if f == catalogimport.CSV && rows > 0 {
		rows--
	}
	return f, rows, nil // a line too long to count is the import's to report
}

// progress reports an import on stderr: on a terminal, one line redrawn after each batch
// (a bar with counts, rate and bad rows), the bad rows printed above it; elsewhere (a log
// file, a pipe) plain lines, one every 10,000 rows or 5 seconds.
type progress struct {
	w        io.Writer
	tty      bool
	width    int
	total    int
	now      func() time.Time
	start    time.Time
	last     catalogimport.Summary
	lastLine time.Time
	lastRows int
	drawn    bool
}

func newProgress(w io.Writer, total int, now func() time.Time) *progress {
	p := &progress{w: w, total: total, now: now, start: now(), width: 80}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 20 {
			p.width = width
		}
	}
	p.lastLine = p.start
	return p
}

// badLine prints a refused row where the bar was; the batch's update draws it again below.
func (p *progress) badLine(e catalogimport.LineError) {
	p.clear()
	fmt.Fprintln(p.w, e.String())
}

// update hears of a finished batch.
func (p *progress) update(s catalogimport.Summary) {
	p.last = s
	if p.tty {
		p.clear()
		p.draw()
		return
	}
	if now := p.now(); s.Rows-p.lastRows >= 10000 || now.Sub(p.lastLine) >= 5*time.Second {
		fmt.Fprintln(p.w, p.status())
		p.lastLine, p.lastRows = now, s.Rows
	}
}

// done draws the final state and leaves the line be.
func (p *progress) done(s catalogimport.Summary) {
	p.last = s
	if p.tty {
		p.clear()
		p.draw()
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func (p *progress) draw() {
	fmt.Fprint(p.w, bar(p.last.Rows, max(p.total, p.last.Rows), p.width-len(p.status())-3)+" "+p.status())
	p.drawn = true
}

// status is the counts: "1200/5000 rows  850 rows/s  3 bad".
func (p *progress) status() string {
	s := p.last
	of := ""
	if p.total > 0 {
		of = fmt.Sprintf("/%d", max(p.total, s.Rows))
	}
	return fmt.Sprintf("%d%s rows  %.0f rows/s  %d bad", s.Rows, of, rate(s.Rows, p.now().Sub(p.start)), s.Bad())
}

// bar draws done out of total in width cells: [=====>    ]. With no total it is empty.
func bar(done, total, width int) string {
	width = min(max(width, 10), 50)
	if total <= 0 {
		return "[" + strings.Repeat(" ", width) + "]"
	}
	filled := min(done*width/total, width)
	head := ""
	if filled < width && filled > 0 {
		filled, head = filled-1, ">"
	}
	return "[" + strings.Repeat("=", filled) + head + strings.Repeat(" ", width-filled-len(head)) + "]"
}

func rate(rows int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(rows) / d.Seconds()
}

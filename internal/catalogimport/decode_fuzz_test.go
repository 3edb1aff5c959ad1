package catalogimport

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cartd/cartd/cart"
)

// The import decoders read whatever a shop uploads. These fuzz targets hold them to a few
// rules whatever the input: they never panic and always end; each unit they yield names its
// lines, in increasing order within the input, and either is a row for the engine or carries
// the errors of lines it names; and the only error that stops them is a *cart.Error (a
// header the import cannot use). `go test` replays the seeds and testdata/fuzz; to fuzz:
// go test -run '^$' -fuzz '^FuzzDecodeCSV$' -fuzztime 1m ./internal/catalogimport/

func exampleSeeds(f *testing.F, ext string) {
	f.Helper()
	names, err := filepath.Glob(filepath.Join("..", "..", "examples", "*."+ext))
	if err != nil || len(names) == 0 {
		f.Fatalf("no examples/*.%s: %v", ext, err)
	}
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
}

var ndjsonSeeds = []string{
	``,
	"\n\n",
	"\ufeff{\"type\":\"stock\",\"sku\":\"A\",\"on_hand\":1}",
	`{"type":"stock","sku":"A","on_hand":1}` + "\r\n" + `{"type":"stock","sku":"B"}`,
	`{"type":"product","id":"p","name":"P","variants":[{"id":"v","sku":"S","price":{"USD":1},"on_hand":3}]}`,
	`{"type":"product","id":"p","variants":[{"on_hand":1e400}]}`,
	`{"type":"product","id":"p","variants":[{"on_hand":-9223372036854775808}]}`,
	`{"type":"product"} {"type":"stock"}`,
	`{"type":null}`,
	`{"type":["product"]}`,
	`{"type":"stock","sku":"A","on_hand":"1"}`,
	`{"type":"stock","sku":"A","on_hand":1,"id":"x"}`,
	`[{"type":"stock"}]`,
	`{"type":"stock","sku":"A","on_hand":1`,
	"{\"type\":\"stock\",\"sku\":\"\x00\",\"on_hand\":1}",
	"\xff\xfe{}",
}

func FuzzDecodeNDJSON(f *testing.F) {
	exampleSeeds(f, "ndjson")
	for _, s := range ndjsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoder(t, newNDJSONDecoder(bytes.NewReader(data)), data)
	})
}

var csvSeeds = []string{
	``,
	"sku,on_hand\n",
	"sku,on_hand\nA,1\nB,\nC,x\nD\n",
	"\ufeffproduct_id,product_name,variant_id,sku,price_USD,price_USD@10,retail_price_EUR,option:size,on_hand\np,P,v,S,100,90,120,M,5\np,,v2,S2,100,,,L,\n",
	"product_id,variant_id,sku\np,v,S\nq,w,T\np,x,U\n",
	"product_id,variant_id,sku\np,v,S\np,w\np,x,U,extra\n",
	"product_id,variant_id,sku,price_USD\np,v,S,\"12\n",
	"product_id,variant_id,sku,price_USD\np,v,S,1\"2\n",
	"product_id,variant_id,sku,active,returnable,tax_rate\np,v,S,maybe,0,99999999999999999999\n",
	"product_id,variant_id,sku,option:\n",
	"product_id,variant_id,sku,price_XXX\n",
	"product_id,variant_id,sku,price_USD@\n",
	"product_id,product_id,sku\n",
	"\"a\nb\",sku\n",
	"product_id,variant_id,sku\r\n,v,S\r\n",
}

func FuzzDecodeCSV(f *testing.F) {
	exampleSeeds(f, "csv")
	for _, s := range csvSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoder(t, newCSVDecoder(bytes.NewReader(data)), data)
	})
}

// checkDecoder runs a decoder to its end and checks what it yields.
func checkDecoder(t *testing.T, dec decoder, data []byte) {
	t.Helper()
	lastLine := bytes.Count(data, []byte("\n")) + 1
	prev := 0
	for n := 0; ; n++ {
		if n > len(data)+1 {
			t.Fatalf("more units than bytes: the decoder does not end")
		}
		u, err := dec.next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			var ce *cart.Error
			if !errors.As(err, &ce) || ce.Reason != "invalid_header" {
				t.Fatalf("the decoder stopped with %v, want only a header's invalid_header", err)
			}
			return
		}
		if len(u.lines) == 0 {
			t.Fatalf("a unit without lines: %+v", u)
		}
		for _, l := range u.lines {
			if l <= prev || l > lastLine {
				t.Fatalf("line %d after line %d, in an input of %d lines", l, prev, lastLine)
			}
			prev = l
		}
		if len(u.errs) == 0 && u.row.Product == nil && len(u.row.Stock) == 0 {
			t.Fatalf("a unit with neither errors nor a row: %+v", u)
		}
		for _, e := range u.errs {
			if !slices.Contains(u.lines, e.Line) || e.Code == "" || e.Message == "" {
				t.Fatalf("error %+v off the unit's lines %v, or without code and message", e, u.lines)
			}
		}
	}
}

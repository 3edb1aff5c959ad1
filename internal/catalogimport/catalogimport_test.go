package catalogimport_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/catalogimport"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/postgres"
	"github.com/cartd/cartd/store/postgres/postgrestest"
	"github.com/cartd/cartd/store/sqlite"
)

var admin = auth.Principal{KeyNum: 1, Scopes: []auth.Scope{auth.Admin}}

// mustEngine returns an engine with reservations on, over a new SQLite file or, with
// CARTD_TEST_STORE=postgres, a new schema on the server of CARTD_TEST_POSTGRES_URL.
func mustEngine(tb testing.TB) *engine.Engine {
	tb.Helper()
	var (
		st  store.Store
		err error
	)
	switch kind := os.Getenv("CARTD_TEST_STORE"); kind {
	case "", "sqlite":
		st, err = sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{})
	case "postgres":
		if os.Getenv(postgrestest.EnvURL) == "" {
			tb.Fatalf("CARTD_TEST_STORE=postgres needs %s", postgrestest.EnvURL)
		}
		st, err = postgres.Open(context.Background(), postgrestest.URL(tb), postgres.Options{MaxConns: 4})
	default:
		tb.Fatalf("CARTD_TEST_STORE=%q: want sqlite or postgres", kind)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return engine.New(st, engine.Config{ReservationTTL: 15 * time.Minute})
}

func mustImport(tb testing.TB, eng *engine.Engine, format catalogimport.Format, input string, batch int) catalogimport.Summary {
	tb.Helper()
	sum, err := catalogimport.Import(context.Background(), eng, admin, strings.NewReader(input), catalogimport.Options{Format: format, Batch: batch})
	if err != nil {
		tb.Fatalf("import: %v", err)
	}
	return sum
}

// snapshot is what an import may change, to compare before and after a re-import.
type snapshot struct {
	Products map[string]cart.Product
	Stock    map[string]cart.Stock
}

func mustSnapshot(tb testing.TB, eng *engine.Engine, products []string, skus []string) snapshot {
	tb.Helper()
	ctx := context.Background()
	s := snapshot{Products: map[string]cart.Product{}, Stock: map[string]cart.Stock{}}
	for _, id := range products {
		p, err := eng.Product(ctx, admin, id)
		if err != nil {
			tb.Fatalf("product %s: %v", id, err)
		}
		s.Products[id] = p
	}
	for _, sku := range skus {
		st, err := eng.Inventory(ctx, admin, sku)
		if err != nil {
			tb.Fatalf("stock %s: %v", sku, err)
		}
		s.Stock[sku] = st
	}
	return s
}

func lines(errs []catalogimport.LineError) []int {
	var out []int
	for _, e := range errs {
		out = append(out, e.Line)
	}
	return out
}

func TestImportLoadsTheGoodRowsAndNamesEachBadLine(t *testing.T) {
	ndjson := strings.Join([]string{
		`{"type":"product","id":"p1","name":"One","variants":[{"id":"v1","sku":"S1","price":{"USD":100},"on_hand":5}]}`,
		`{"type":"product","id":"p2","name":"","variants":[{"id":"v2","sku":"S2","price":{"USD":100},"on_hand":5}]}`, // no name
		``,
		`{"type":"stock","sku":"S1","on_hand":-1}`,                                                            // negative
		`{"type":"product","id":"p3","name":"Three","variants":[{"id":"v3","sku":"S1","price":{"USD":100}}]}`, // S1 is p1's
		`{"type":"product","id":"p4","name":"Four","variants":[{"id":"v4","sku":"S4","price":{"USD":100},"on_hand":7}]}`,
		`not json`,
		`{"type":"stock","sku":"S4","on_hand":9,"extra":1}`,
		`{"type":"gift"}`,
		`{"type":"stock","sku":"LOOSE","on_hand":3}`,
		`{"type":"product","id":"p5","name":"Five","variants":[{"id":"v5","sku":"S5","price":{"USD":"1.00"}}]}`,
	}, "\n")
	csvInput := strings.Join([]string{
		"product_id,product_name,variant_id,sku,price_USD,on_hand",
		"p1,One,v1,S1,100,5",
		"p2,Two,v2a,S2A,100,1", // line 3: p2 is refused for line 4
		"p2,Two,v2b,S2B,12.50,1",
		"p3,Three,v3,S3,,2", // no price
		`p4,"Four`,          // unterminated quote: the rest of the file is one field
	}, "\n")
	csvTail := strings.Join([]string{
		"product_id,product_name,variant_id,sku,price_USD,on_hand",
		"p6,Six,v6,S6,100,4",
		"p6,Six,v6b,S6B,100",    // line 3: short row
		"p7,Seven,v7,S7,100,-2", // line 4: negative stock
		"p6,Six,v6c,S6C,100,1",  // line 5: p6 again, apart
		"p8,Eight,v8,S8,100,",   // line 6: no stock given
		"p9,Nine,v9,S9,100,1",   // line 7: p9 refused for line 8
		"p9,Nine,v9b,S9B,100,-1",
	}, "\n")

	tests := []struct {
		name      string
		format    catalogimport.Format
		input     string
		wantBad   []int
		wantCodes []string
		wantRows  int
		products  []string
		missing   []string
		stock     map[string]int64
	}{
		{"NDJSON", catalogimport.NDJSON, ndjson, []int{2, 4, 5, 7, 8, 9, 11},
			[]string{"invalid_product", "invalid_on_hand", "duplicate_sku", "malformed_row", "unknown_field", "invalid_type", "invalid_type"},
			10, []string{"p1", "p4"}, []string{"p2", "p3", "p5"}, map[string]int64{"S1": 5, "S4": 7, "LOOSE": 3, "S2": 0}},
		{"CSV", catalogimport.CSV, csvInput, []int{3, 4, 5, 6},
			[]string{"product_rejected", "invalid_value", "invalid_product", "malformed_row"},
			5, []string{"p1"}, []string{"p2", "p3", "p4"}, map[string]int64{"S1": 5, "S2A": 0, "S3": 0}},
		{"CSV with short, split and stockless rows", catalogimport.CSV, csvTail, []int{2, 3, 4, 5, 7, 8},
			[]string{"product_rejected", "malformed_row", "invalid_on_hand", "product_split", "product_rejected", "invalid_on_hand"},
			7, []string{"p8"}, []string{"p6", "p7", "p9"}, map[string]int64{"S6": 0, "S8": 0, "S9": 0}},
	}
	for _, tt := range tests {
		for _, batch := range []int{1, 3, 500} {
			t.Run(fmt.Sprintf("%s in batches of %d", tt.name, batch), func(t *testing.T) {
				eng := mustEngine(t)
				sum := mustImport(t, eng, tt.format, tt.input, batch)
				if diff := cmp.Diff(tt.wantBad, lines(sum.Errors)); diff != "" {
					t.Fatalf("bad lines (-want +got):\n%s\n%v", diff, sum.Errors)
				}
				var codes []string
				for _, e := range sum.Errors {
					codes = append(codes, e.Code)
					if e.Message == "" {
						t.Errorf("line %d has no message", e.Line)
					}
				}
				if diff := cmp.Diff(tt.wantCodes, codes); diff != "" {
					t.Errorf("codes (-want +got):\n%s\n%v", diff, sum.Errors)
				}
				if sum.Rows != tt.wantRows || sum.Imported+sum.Unchanged+sum.Bad() != sum.Rows {
					t.Errorf("summary %+v: want %d rows, each imported, unchanged or bad", sum, tt.wantRows)
				}
				for _, id := range tt.products {
					if _, err := eng.Product(t.Context(), admin, id); err != nil {
						t.Errorf("product %s: %v", id, err)
					}
				}
				for _, id := range tt.missing {
					if _, err := eng.Product(t.Context(), admin, id); cart.ErrorCode(err) != cart.NotFound {
						t.Errorf("product %s of a bad row: err = %v, want not found", id, err)
					}
				}
				for sku, want := range tt.stock {
					st, err := eng.Inventory(t.Context(), admin, sku)
					if err != nil || st.OnHand != want {
						t.Errorf("stock %s = %d (%v), want %d", sku, st.OnHand, err, want)
					}
				}
			})
		}
	}
}

func TestExamplesImportCleanlyAndReimportChangesNothing(t *testing.T) {
	examples := []struct {
		name     string
		products []string
		skus     []string
	}{
		{"catalog.ndjson", []string{"prod_hoodie", "prod_mug", "prod_print"}, []string{"HOODIE-GREY-M", "HOODIE-GREY-L", "MUG-ENAMEL", "PRINT-A2", "GIFT-BOX"}},
		{"catalog.csv", []string{"prod_hoodie", "prod_mug", "prod_print"}, []string{"HOODIE-GREY-M", "HOODIE-GREY-L", "MUG-ENAMEL", "PRINT-A2"}},
		{"stock.csv", nil, []string{"GIFT-BOX"}},
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "examples", ex.name))
			if err != nil {
				t.Fatal(err)
			}
			format, _ := catalogimport.FormatOf(ex.name)
			eng := mustEngine(t)
			first := mustImport(t, eng, format, string(raw), 2)
			if first.Bad() != 0 || first.Imported != first.Rows || first.Rows == 0 {
				t.Fatalf("the example does not import cleanly: %+v", first)
			}
			before := mustSnapshot(t, eng, ex.products, ex.skus)
			for _, st := range before.Stock {
				if st.Version == 0 || st.OnHand == 0 {
					t.Fatalf("stock not set: %+v", st)
				}
			}
			again := mustImport(t, eng, format, string(raw), 2)
			if again.Unchanged != again.Rows || again.Imported != 0 || again.Bad() != 0 || again.Rows != first.Rows {
				t.Fatalf("re-import: %+v, want every row unchanged", again)
			}
			if diff := cmp.Diff(before, mustSnapshot(t, eng, ex.products, ex.skus)); diff != "" {
				t.Fatalf("re-import changed the catalog (-before +after):\n%s", diff)
			}
		})
	}
}

func TestImportIsTheSameProductAsThePUT(t *testing.T) {
	// The example files describe one catalog in two formats.
	eng := mustEngine(t)
	ndjson, err := os.ReadFile("../../examples/catalog.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile("../../examples/catalog.csv")
	if err != nil {
		t.Fatal(err)
	}
	mustImport(t, eng, catalogimport.NDJSON, string(ndjson), 100)
	products := []string{"prod_hoodie", "prod_mug", "prod_print"}
	skus := []string{"HOODIE-GREY-M", "HOODIE-GREY-L", "MUG-ENAMEL", "PRINT-A2"}
	before := mustSnapshot(t, eng, products, skus)
	sum := mustImport(t, eng, catalogimport.CSV, string(csv), 100)
	if sum.Unchanged != sum.Rows || sum.Bad() != 0 {
		t.Fatalf("the CSV example after the NDJSON one: %+v, want every row unchanged", sum)
	}
	if diff := cmp.Diff(before, mustSnapshot(t, eng, products, skus)); diff != "" {
		t.Fatalf("the CSV example differs from the NDJSON one (-ndjson +csv):\n%s", diff)
	}
}

func TestImportChangesWhatDiffers(t *testing.T) {
	eng := mustEngine(t)
	mustImport(t, eng, catalogimport.CSV, "product_id,product_name,variant_id,sku,price_USD,on_hand\np1,One,v1,S1,100,5\np2,Two,v2,S2,100,5\n", 10)
	before := mustSnapshot(t, eng, []string{"p1", "p2"}, []string{"S1", "S2"})
	sum := mustImport(t, eng, catalogimport.CSV, "product_id,product_name,variant_id,sku,price_USD,on_hand\np1,One,v1,S1,100,6\np2,Two,v2,S2,120,5\n", 10)
	if sum.Imported != 2 || sum.Unchanged != 0 {
		t.Fatalf("summary %+v, want both rows imported", sum)
	}
	after := mustSnapshot(t, eng, []string{"p1", "p2"}, []string{"S1", "S2"})
	if after.Stock["S1"].Version != before.Stock["S1"].Version+1 || after.Stock["S2"].Version != before.Stock["S2"].Version {
		t.Errorf("stock versions %d->%d and %d->%d: want only S1's bumped", before.Stock["S1"].Version, after.Stock["S1"].Version,
			before.Stock["S2"].Version, after.Stock["S2"].Version)
	}
	if !after.Products["p1"].UpdatedAt.Equal(before.Products["p1"].UpdatedAt) || after.Products["p2"].Variants[0].Prices["USD"] != 120 {
		t.Errorf("p1 rewritten or p2 not repriced: %+v", after.Products)
	}
}

func TestImportRespectsReservations(t *testing.T) {
	// Stock set by an import treats what carts hold as PUT /v1/inventory does: lowered below
	// what is reserved, the newest reservations give units back.
	eng := mustEngine(t)
	ctx := context.Background()
	mustImport(t, eng, catalogimport.NDJSON, `{"type":"product","id":"p","name":"P","variants":[{"id":"v","sku":"S","price":{"USD":100},"on_hand":10}]}`, 10)
	c, err := eng.CreateCart(ctx, admin, engine.NewCart{Currency: "USD"}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := cart.AddDelta(8)
	if _, err := eng.Update(ctx, admin, c.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: "S"}, Change: &ch, Add: true, Policy: cart.Reject}}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	sum := mustImport(t, eng, catalogimport.CSV, "sku,on_hand\nS,3\n", 10)
	if sum.Imported != 1 {
		t.Fatalf("summary %+v", sum)
	}
	st, err := eng.Inventory(ctx, admin, "S")
	if err != nil {
		t.Fatal(err)
	}
	if st.OnHand != 3 || st.Reserved != 3 {
		t.Fatalf("stock %+v: want on_hand 3, reserved lowered to 3", st)
	}
	v, err := eng.Cart(ctx, admin, c.Cart.Num)
	if err != nil {
		t.Fatal(err)
	}
	if it := v.Lines[0].Item; it.Quantity != 8 || it.ReservedQuantity != 3 {
		t.Fatalf("item %+v: want quantity 8 holding 3", it)
	}
}

func TestImportRefusals(t *testing.T) {
	eng := mustEngine(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		p      auth.Principal
		format catalogimport.Format
		input  string
		code   cart.Code
		reason string
	}{
		{"a key without catalog:write", auth.Principal{KeyNum: 2, Scopes: []auth.Scope{auth.CatalogRead}}, catalogimport.CSV, "sku,on_hand\nS,1\n", cart.Forbidden, "missing_scope"},
		{"an empty file", admin, catalogimport.NDJSON, "", cart.Malformed, "empty_import"},
		{"blank lines only", admin, catalogimport.NDJSON, "\n \n\r\n", cart.Malformed, "empty_import"},
		{"an empty CSV", admin, catalogimport.CSV, "", cart.Malformed, "empty_import"},
		{"an unknown column", admin, catalogimport.CSV, "product_id,variant_id,sku,colour\n", cart.Invalid, "invalid_header"},
		{"a bad currency", admin, catalogimport.CSV, "product_id,variant_id,sku,price_usd\n", cart.Invalid, "invalid_header"},
		{"no sku column", admin, catalogimport.CSV, "product_id,variant_id,price_USD\n", cart.Invalid, "invalid_header"},
		{"a column twice", admin, catalogimport.CSV, "sku,on_hand,sku\n", cart.Invalid, "invalid_header"},
		{"a bad tier column", admin, catalogimport.CSV, "product_id,variant_id,sku,price_USD@1\n", cart.Invalid, "invalid_header"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			_, err := catalogimport.Import(ctx, eng, tt.p, strings.NewReader(tt.input), catalogimport.Options{Format: tt.format})
			e := cart.AsError(err)
			if err == nil || e.Code != tt.code || e.Reason != tt.reason {
				t.Fatalf("err = %v, want %s %s", err, tt.code, tt.reason)
			}
		})
	}
	t.Run("a CSV header alone imports nothing", func(t *testing.T) {
		sum := mustImport(t, eng, catalogimport.CSV, "\ufeffproduct_id,product_name,variant_id,sku,price_USD\n", 10)
		if sum.Rows != 0 {
			t.Fatalf("summary %+v", sum)
		}
	})
}

func TestFormatOf(t *testing.T) {
	for name, want := range map[string]catalogimport.Format{"a.ndjson": catalogimport.NDJSON, "b.JSONL": catalogimport.NDJSON,
		"c.csv": catalogimport.CSV, "d.txt": ""} {
		if got, ok := catalogimport.FormatOf(name); got != want || ok != (want != "") {
			t.Errorf("FormatOf(%q) = %q, %v", name, got, ok)
		}
	}
}

// docs/measured-quantities.md: a variant measured to the gram imports the same from NDJSON
// and CSV (its rule, tiers and on_hand decimals of its scale; a CSV tier column in whole
// units), and a value with more digits than the scale refuses its row.
func TestImportMeasuredQuantities(t *testing.T) {
	eng := mustEngine(t)
	ndjson := `{"type":"product","id":"p_kg","name":"Coffee","variants":[{"id":"v_kg","sku":"KG","price":{"USD":1299},"quantity_scale":3,"unit":"kg",` +
		`"quantity_rule":{"min":0.25,"increment":0.05},"tiers":[{"min_quantity":5,"price":{"USD":1199}}],"on_hand":10.5}]}` + "\n" +
		`{"type":"stock","sku":"KG","on_hand":12.25}` + "\n"
	if sum := mustImport(t, eng, catalogimport.NDJSON, ndjson, 10); sum.Bad() != 0 {
		t.Fatalf("NDJSON: %+v", sum)
	}
	before := mustSnapshot(t, eng, []string{"p_kg"}, []string{"KG"})
	v := before.Products["p_kg"].Variants[0]
	if v.QuantityScale != 3 || v.Unit != "kg" || *v.QuantityRule != (cart.QuantityRule{Min: 250, Increment: 50}) ||
		v.Tiers[0].MinQuantity != 5000 || before.Stock["KG"].OnHand != 12250 {
		t.Fatalf("imported %+v, rule %+v, stock %+v", v, v.QuantityRule, before.Stock["KG"])
	}
	csv := "product_id,product_name,variant_id,sku,price_USD,price_USD@5,quantity_scale,unit,quantity_min,quantity_increment,on_hand\n" +
		"p_kg,Coffee,v_kg,KG,1299,1199,3,kg,0.25,0.050,12.250\n"
	if sum := mustImport(t, eng, catalogimport.CSV, csv, 10); sum.Unchanged != sum.Rows || sum.Bad() != 0 {
		t.Fatalf("the same catalog as CSV: %+v, want every row unchanged", sum)
	}
	for _, bad := range []string{
		`{"type":"stock","sku":"KG","on_hand":1.0005}`,
		`{"type":"product","id":"p_kg","name":"Coffee","variants":[{"id":"v_kg","sku":"KG","price":{"USD":1299},"quantity_scale":3,"unit":"kg","quantity_rule":{"min":0.2505}}]}`,
	} {
		if sum := mustImport(t, eng, catalogimport.NDJSON, bad+"\n", 10); sum.Bad() != 1 {
			t.Errorf("%s: %+v, want the row refused", bad, sum)
		}
	}
	if diff := cmp.Diff(before, mustSnapshot(t, eng, []string{"p_kg"}, []string{"KG"})); diff != "" {
		t.Errorf("refused rows changed the catalog:\n%s", diff)
	}
}

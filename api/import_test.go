package api_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/api"
)

type callFunc func(t *testing.T, want int, method, path, credential string, body any, headers ...string) response

// importSummary is the 200 of POST /v1/catalog/import.
type importSummary struct {
	Rows      int `json:"rows"`
	Imported  int `json:"imported"`
	Unchanged int `json:"unchanged"`
	Errors    []struct {
		Line    int    `json:"line"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

func decodeSummary(tb testing.TB, r response) importSummary {
	tb.Helper()
	var s importSummary
	if err := json.Unmarshal(r.Body, &s); err != nil {
		tb.Fatalf("summary: %v\n%s", err, r.Body)
	}
	return s
}

func (s importSummary) badLines() []int {
	var out []int
	for _, e := range s.Errors {
		out = append(out, e.Line)
	}
	return out
}

const (
	csvType    = "text/csv"
	ndjsonType = "application/x-ndjson"
)

// importContract is TestOpenAPIContract's part for POST /v1/catalog/import: every status it
// documents, through the contract check. Its generic checks of request bodies assume JSON,
// which this operation does not take.
func importContract(run func(name string, fn func(t *testing.T)), call callFunc, admin, catalogKey string) {
	// kin-openapi knows no NDJSON; the document says the body is a string, which it is.
	openapi3filter.RegisterBodyDecoder(ndjsonType, openapi3filter.PlainBodyDecoder)
	const path = "/v1/catalog/import"

	run("the catalog is imported, good rows in, bad rows named", func(t *testing.T) {
		csv := "product_id,product_name,variant_id,sku,price_USD,on_hand\n" +
			"prod_imp1,Imported,var_imp1,IMP-1,1500,12\n" +
			"prod_imp2,Bad price,var_imp2,IMP-2,15.00,3\n" +
			"prod_imp3,No stock given,var_imp3,IMP-3,900,\n"
		s := decodeSummary(t, call(t, 200, "POST", path, catalogKey, csv, "Content-Type", csvType))
		if s.Rows != 3 || s.Imported != 2 || s.Unchanged != 0 || !cmp.Equal(s.badLines(), []int{3}) || s.Errors[0].Code != "invalid_value" {
			t.Fatalf("summary %+v", s)
		}
		if st := call(t, 200, "GET", "/v1/inventory/IMP-1", admin, nil).JSON(t); st["on_hand"] != 12.0 {
			t.Fatalf("IMP-1 stock: %v", st)
		}
		call(t, 404, "GET", "/v1/products/prod_imp2", admin, nil)

		again := decodeSummary(t, call(t, 200, "POST", path, catalogKey, csv, "Content-Type", csvType))
		if again.Imported != 0 || again.Unchanged != 2 || len(again.Errors) != 1 {
			t.Fatalf("re-import: %+v, want the good rows unchanged", again)
		}

		ndjson := `{"type":"stock","sku":"IMP-1","on_hand":20}` + "\n" + `{"type":"product","id":"prod_imp4"}` + "\n"
		s = decodeSummary(t, call(t, 200, "POST", path, admin, ndjson, "Content-Type", ndjsonType+"; charset=utf-8"))
		if s.Rows != 2 || s.Imported != 1 || !cmp.Equal(s.badLines(), []int{2}) || s.Errors[0].Code != "invalid_product" {
			t.Fatalf("summary %+v", s)
		}
		// Every row refused is still a 200: the summary is the answer.
		s = decodeSummary(t, call(t, 200, "POST", path, admin, "{}\n[]\n", "Content-Type", ndjsonType))
		if s.Imported != 0 || !cmp.Equal(s.badLines(), []int{1, 2}) {
			t.Fatalf("summary %+v", s)
		}
	})

	run("imports that cannot run are refused", func(t *testing.T) {
		wantProblem(t, call(t, 400, "POST", path, admin, "\n\n", "Content-Type", ndjsonType), "empty_import")
		wantProblem(t, call(t, 422, "POST", path, admin, "product_id,sku,colour\n", "Content-Type", csvType), "invalid_header")
		wantProblem(t, call(t, 415, "POST", path, admin, `{"type":"stock","sku":"IMP-1","on_hand":1}`), "unsupported_media_type")
		wantProblem(t, call(t, 413, "POST", path, admin, bytes.Repeat([]byte("\n"), api.MaxImportBody+1), "Content-Type", ndjsonType), "body_too_large")
	})
}

// TestImportTakesThePUTBody checks that an NDJSON product line is the body of PUT
// /v1/products/{id}: a product written by the PUT and imported from the same body (with its
// type and id) is unchanged, and the other way round.
func TestImportTakesThePUTBody(t *testing.T) {
	ts := mustServer(t)
	body := map[string]any{"name": " Tee ", "brand": "B", "category": "C", "description": "D", "image_url": "https://x/i.jpg", "tax_code": "6109",
		"variants": []any{
			map[string]any{"id": "var_a", "sku": "A", "options": []any{map[string]any{"name": "size", "value": "M"}},
				"price": map[string]any{"USD": 1000, "EUR": 900}, "retail_price": map[string]any{"USD": 1200},
				"tiers":    []any{map[string]any{"min_quantity": 20, "price": map[string]any{"USD": 800}}, map[string]any{"min_quantity": 10, "price": map[string]any{"USD": 900}}},
				"tax_rate": 500, "weight_grams": 100, "returnable": false, "sale_id": "sale_x"},
			map[string]any{"id": "var_b", "sku": "B", "name": "Big", "price": map[string]any{"USD": 1000}, "active": false},
		}}
	ts.do(t, "PUT", "/v1/products/prod_same", ts.Admin, body).mustStatus(t, 200)
	before := ts.do(t, "GET", "/v1/products/prod_same", ts.Admin, nil).mustStatus(t, 200)

	line := map[string]any{"type": "product", "id": "prod_same"}
	for k, v := range body {
		line[k] = v
	}
	raw, err := json.Marshal(line)
	if err != nil {
		t.Fatal(err)
	}
	s := decodeSummary(t, ts.do(t, "POST", "/v1/catalog/import", ts.Admin, raw, "Content-Type", ndjsonType).mustStatus(t, 200))
	if s.Unchanged != 1 || s.Rows != 1 {
		t.Fatalf("the PUT's body imported: %+v, want unchanged", s)
	}
	after := ts.do(t, "GET", "/v1/products/prod_same", ts.Admin, nil).mustStatus(t, 200)
	if diff := cmp.Diff(before.JSON(t), after.JSON(t)); diff != "" {
		t.Fatalf("the product changed (-before +after):\n%s", diff)
	}

	// Imported first, then PUT: the same product.
	line["id"] = "prod_other"
	for _, v := range body["variants"].([]any) {
		v.(map[string]any)["id"] = "o" + v.(map[string]any)["id"].(string)
		v.(map[string]any)["sku"] = "O" + v.(map[string]any)["sku"].(string)
	}
	raw, err = json.Marshal(line)
	if err != nil {
		t.Fatal(err)
	}
	s = decodeSummary(t, ts.do(t, "POST", "/v1/catalog/import", ts.Admin, raw, "Content-Type", ndjsonType).mustStatus(t, 200))
	if s.Imported != 1 {
		t.Fatalf("summary %+v", s)
	}
	imported := ts.do(t, "GET", "/v1/products/prod_other", ts.Admin, nil).mustStatus(t, 200).JSON(t)
	put := ts.do(t, "PUT", "/v1/products/prod_other", ts.Admin, body).mustStatus(t, 200).JSON(t)
	for _, m := range []map[string]any{imported, put} {
		delete(m, "updated_at")
	}
	if diff := cmp.Diff(imported, put); diff != "" {
		t.Fatalf("imported and PUT differ (-imported +put):\n%s", diff)
	}
}

// TestImportRowRefusedByTheDatabase checks that a row holding text no store can keep alike (a
// NUL, which PostgreSQL cannot store and SQLite would) is refused on both stores, before the
// database sees it, and takes nothing from the other rows of its batch.
func TestImportRowRefusedByTheDatabase(t *testing.T) {
	ts := mustServer(t)
	body := `{"type":"product","id":"p_a","name":"A","variants":[{"id":"v_a","sku":"A","price":{"USD":1},"on_hand":1}]}
{"type":"product","id":"p_nul","name":"N\u0000L","variants":[{"id":"v_nul","sku":"NUL","price":{"USD":1},"on_hand":1}]}
{"type":"product","id":"p_b","name":"B","variants":[{"id":"v_b","sku":"B","price":{"USD":1},"on_hand":2}]}
`
	s := decodeSummary(t, ts.do(t, "POST", "/v1/catalog/import", ts.Admin, body, "Content-Type", ndjsonType).mustStatus(t, 200))
	if s.Imported != 2 || len(s.Errors) != 1 || s.Errors[0].Line != 2 || !strings.Contains(s.Errors[0].Message, "NUL") {
		t.Fatalf("summary %+v, want line 2 refused for its NUL and the others imported", s)
	}
	if st := ts.do(t, "GET", "/v1/inventory/NUL", ts.Admin, nil).mustStatus(t, 200).JSON(t); st["on_hand"] != 0.0 {
		t.Fatalf("the refused row's stock was set: %v", st)
	}
	for sku, want := range map[string]float64{"A": 1, "B": 2} {
		if st := ts.do(t, "GET", "/v1/inventory/"+sku, ts.Admin, nil).mustStatus(t, 200).JSON(t); st["on_hand"] != want {
			t.Errorf("%s: %v, want on_hand %v", sku, st, want)
		}
	}
}

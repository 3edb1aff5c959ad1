package catalogimport_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/catalogimport"
)

// TestImportQuantityRules imports quantity rules from NDJSON (a product's and a variant's)
// and CSV (a variant's, from its columns), refuses the rows whose rule or tiers a PUT would
// refuse, naming their lines, and counts a re-import unchanged.
func TestImportQuantityRules(t *testing.T) {
	tests := []struct {
		name   string
		format catalogimport.Format
		input  string
		bad    map[int]string // line -> a word of its error
		rules  map[string]cart.QuantityRule
	}{
		{"NDJSON rules on products and variants", catalogimport.NDJSON,
			`{"type":"product","id":"prod_socks","name":"Socks","quantity_rule":{"increment":2,"max":10},"variants":[{"id":"var_socks","sku":"SOCKS","price":{"USD":500}}]}
{"type":"product","id":"prod_ltd","name":"Limited","variants":[{"id":"var_ltd","sku":"LTD","price":{"USD":900},"quantity_rule":{"max_per_customer":2}}]}
{"type":"product","id":"prod_bad","name":"Bad","quantity_rule":{"increment":2,"min":3},"variants":[{"id":"var_bad","sku":"BAD","price":{"USD":1}}]}
{"type":"product","id":"prod_tier","name":"Tier","quantity_rule":{"max":5},"variants":[{"id":"var_tier","sku":"TIER","price":{"USD":1},"tiers":[{"min_quantity":6,"price":{"USD":1}}]}]}
`, map[int]string{3: "multiple", 4: "tier"}, map[string]cart.QuantityRule{"LTD": {MaxPerCustomer: 2}}},
		{"CSV rule columns", catalogimport.CSV,
			"product_id,product_name,variant_id,sku,price_USD,quantity_min,quantity_max,quantity_increment,max_per_customer\n" +
				"prod_case,Water,var_case,CASE,4800,12,48,12,\n" +
				"prod_odd,Odd,var_odd,ODD,100,3,,2,\n",
			map[int]string{3: "multiple"}, map[string]cart.QuantityRule{"CASE": {Min: 12, Max: 48, Increment: 12}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := mustEngine(t)
			sum := mustImport(t, eng, tt.format, tt.input, 0)
			if len(sum.Errors) != len(tt.bad) {
				t.Fatalf("errors %v, want lines %v", sum.Errors, tt.bad)
			}
			for _, e := range sum.Errors {
				if word, ok := tt.bad[e.Line]; !ok || !strings.Contains(e.Message, word) {
					t.Errorf("line %d: %s; want an error with %q", e.Line, e.Message, word)
				}
			}
			for sku, want := range tt.rules {
				var got *cart.QuantityRule
				for _, id := range []string{"prod_ltd", "prod_case"} {
					p, err := eng.Product(context.Background(), admin, id)
					if err != nil {
						continue
					}
					for _, v := range p.Variants {
						if v.SKU == sku {
							got = v.QuantityRule
						}
					}
				}
				if got == nil || *got != want {
					t.Errorf("%s: rule %v, want %v", sku, got, want)
				}
			}
			if again := mustImport(t, eng, tt.format, tt.input, 0); again.Unchanged != sum.Imported {
				t.Errorf("re-import: %+v, want %d unchanged", again, sum.Imported)
			}
		})
	}
}

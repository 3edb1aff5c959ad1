package api_test

// A history-checked test of the consistency docs/api.md states: every call of a concurrent
// run on a few items is recorded (when it was sent, when its answer was read, what it asked,
// what it was told) and the history is checked with porcupine
// (github.com/anishathalye/porcupine) against a sequential model of one item's quantity under
// set, delta, remove and a stock limit. A history is linearizable when the calls can be put in
// one order, consistent with real time (a call answered before another was sent comes first),
// in which the model gives every answer the clients got: so no acknowledged change is lost, a
// read sees every change answered before it was sent (read-your-writes), and no answer shows
// more units than the stock. The model follows the cart's version too, so two changes that
// leave the same quantity cannot stand in for each other.
//
// Each item is its own cart with one line of its own SKU, so its stock limit is fixed and
// each history is small: at most 8 clients and a few hundred calls per item, many items in
// parallel. The stock shared between carts is checked by TestLifecycleUnderConcurrentLoad.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// linOp is one call on an item: set the line's quantity (n; 0 removes), add a delta (n),
// empty the cart (remove), or read the cart.
type linOp struct {
	Item int
	Kind string // "set", "delta", "remove", "read"
	N    int64
}

// linResult is what the call was told: whether the change was made (200) or refused for
// stock (409, which carries the cart), and the line's quantity and the cart's version in the
// cart it was answered with.
type linResult struct {
	OK       bool
	Quantity int64
	Version  int64
}

// linState is the model's state of one item's cart.
type linState struct {
	Quantity int64
	Version  int64
}

// linStep is the sequential model of one cart holding at most one line of a SKU of which
// limit units exist and no other cart takes any, under the reject policy: a result of 0 or
// less removes the line; an increase above the stock is refused and changes nothing; every
// change that stores something bumps the version, and removing what is not there stores
// nothing.
func linStep(limit int64) func(state, input, output any) (bool, any) {
	return func(state, input, output any) (bool, any) {
		s, in, out := state.(linState), input.(linOp), output.(linResult)
		next := s
		switch in.Kind {
		case "read":
			return out.OK && out.Quantity == s.Quantity && out.Version == s.Version, s
		case "remove":
			next.Quantity = 0
		case "set":
			next.Quantity = in.N
		case "delta":
			next.Quantity = s.Quantity + in.N
		}
		if next.Quantity <= 0 {
			next.Quantity = 0
			if s.Quantity > 0 {
				next.Version++
			}
			return out.OK && out.Quantity == next.Quantity && out.Version == next.Version, next
		}
		if next.Quantity > limit && next.Quantity > s.Quantity {
			return !out.OK && out.Quantity == s.Quantity && out.Version == s.Version, s
		}
		next.Version++
		return out.OK && out.Quantity == next.Quantity && out.Version == next.Version, next
	}
}

func linModel(limit int64) porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byItem := map[int][]porcupine.Operation{}
			var items []int
			for _, op := range history {
				i := op.Input.(linOp).Item
				if _, ok := byItem[i]; !ok {
					items = append(items, i)
				}
				byItem[i] = append(byItem[i], op)
			}
			var out [][]porcupine.Operation
			for _, i := range items {
				out = append(out, byItem[i])
			}
			return out
		},
		Init: func() any { return linState{Version: 1} },
		Step: linStep(limit),
		DescribeOperation: func(input, output any) string {
			in, out := input.(linOp), output.(linResult)
			what := map[string]string{"set": fmt.Sprintf("set %d", in.N), "delta": fmt.Sprintf("delta %+d", in.N), "remove": "remove", "read": "read"}[in.Kind]
			verdict := "ok"
			if !out.OK {
				verdict = "refused"
			}
			return fmt.Sprintf("item %d: %s -> %s, quantity %d, v%d", in.Item, what, verdict, out.Quantity, out.Version)
		},
		DescribeState: func(state any) string {
			s := state.(linState)
			return fmt.Sprintf("quantity %d, v%d", s.Quantity, s.Version)
		},
	}
}

func TestModelOfOneItem(t *testing.T) {
	step := linStep(10)
	tests := []struct {
		name  string
		state linState
		op    linOp
		out   linResult
		ok    bool
	}{
		{"a set within stock", linState{2, 5}, linOp{Kind: "set", N: 7}, linResult{true, 7, 6}, true},
		{"a set within stock answered with the old quantity", linState{2, 5}, linOp{Kind: "set", N: 7}, linResult{true, 2, 6}, false},
		{"a set above stock is refused", linState{2, 5}, linOp{Kind: "set", N: 11}, linResult{false, 2, 5}, true},
		{"a set above stock is not accepted", linState{2, 5}, linOp{Kind: "set", N: 11}, linResult{true, 11, 6}, false},
		{"a delta to zero removes", linState{2, 5}, linOp{Kind: "delta", N: -3}, linResult{true, 0, 6}, true},
		{"a negative delta of nothing stores nothing", linState{0, 5}, linOp{Kind: "delta", N: -1}, linResult{true, 0, 5}, true},
		{"removing nothing stores nothing", linState{0, 5}, linOp{Kind: "remove"}, linResult{true, 0, 5}, true},
		{"a read sees the state", linState{3, 5}, linOp{Kind: "read"}, linResult{true, 3, 5}, true},
		{"a read of an older state is not linearizable", linState{3, 5}, linOp{Kind: "read"}, linResult{true, 2, 4}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ok, _ := step(tt.state, tt.op, tt.out); ok != tt.ok {
				t.Errorf("step(%+v, %+v, %+v) = %v, want %v", tt.state, tt.op, tt.out, ok, tt.ok)
			}
		})
	}
	// A lost update is caught: two +1s both answered with quantity 1.
	history := []porcupine.Operation{
		{ClientId: 0, Input: linOp{Kind: "delta", N: 1}, Call: 0, Output: linResult{true, 1, 2}, Return: 10},
		{ClientId: 1, Input: linOp{Kind: "delta", N: 1}, Call: 1, Output: linResult{true, 1, 2}, Return: 11},
	}
	if porcupine.CheckOperations(linModel(10), history) {
		t.Error("a history with a lost update passed the check")
	}
}

func TestHistoriesAreLinearizable(t *testing.T) {
	const (
		// limit is the units of each item's SKU: on PostgreSQL with stock buckets
		// (CARTD_TEST_STOCK_BUCKETS), enough for two buckets, so that sets above one bucket's
		// share and within the stock take the path where one bucket is short but the sum is
		// enough (docs/stock.md).
		limit   = 24
		clients = 8 // per item
	)
	items, calls := 6, 40 // calls per client: 320 per item
	if underRace {
		items, calls = 3, 25 // 200 per item
	}
	s := mustServer(t)
	client := concurrentClient(t, items*clients)
	carts := make([]string, items)
	for i := range carts {
		sku := fmt.Sprintf("LIN-%d", i)
		s.mustProduct(t, "prod_lin_"+sku, 300, limit, sku)
		carts[i] = s.mustCart(t)
	}

	start := time.Now()
	var (
		mu      sync.Mutex
		history []porcupine.Operation
	)
	runClients(items*clients, func(g int) {
		item, id := g/clients, carts[g/clients]
		sku := fmt.Sprintf("LIN-%d", item)
		rng := rand.New(rand.NewPCG(uint64(g), 0x11ea))
		for range calls {
			var (
				in           linOp
				method, path = "PATCH", "/v1/carts/" + id + "/items"
				body         any
			)
			switch k := rng.IntN(10); {
			case k < 4:
				in = linOp{Item: item, Kind: "set", N: int64(rng.IntN(limit + 4))}
				body = map[string]any{"changes": []any{map[string]any{"sku": sku, "quantity": in.N}}}
			case k < 8:
				in = linOp{Item: item, Kind: "delta", N: []int64{-3, -2, -1, 1, 2, 3, 4}[rng.IntN(7)]}
				body = map[string]any{"changes": []any{map[string]any{"sku": sku, "quantity_delta": in.N}}}
			case k < 9:
				in, method = linOp{Item: item, Kind: "remove"}, "DELETE"
			default:
				in, method, path = linOp{Item: item, Kind: "read"}, "GET", "/v1/carts/"+id
			}
			call := time.Since(start).Nanoseconds()
			r, err := concurrentDo(client, s, method, path, body)
			ret := time.Since(start).Nanoseconds()
			if err != nil {
				t.Errorf("client %d: %v", g, err)
				return
			}
			var c cartDoc
			out := linResult{OK: r.Status == 200}
			switch r.Status {
			case 200:
				if c, err = decodeCart(t, r); err != nil {
					t.Errorf("client %d: %v", g, err)
					return
				}
			case 409:
				p, err := decodeProblem(t, r)
				if err != nil || p.Code != "insufficient_stock" || p.Cart == nil {
					t.Errorf("client %d: %+v: 409 without insufficient_stock and the cart: %v %s", g, in, err, r.Body)
					return
				}
				c = *p.Cart
			default:
				t.Errorf("client %d: %+v: status %d: %s", g, in, r.Status, r.Body)
				return
			}
			it, _ := c.item(sku)
			out.Quantity, out.Version = it.Quantity, c.Version
			mu.Lock()
			history = append(history, porcupine.Operation{ClientId: g, Input: in, Call: call, Output: out, Return: ret})
			mu.Unlock()
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	model := linModel(limit)
	result, info := porcupine.CheckOperationsVerbose(model, history, 0)
	t.Logf("%d calls on %d items by %d clients each: %s", len(history), items, clients, result)
	if result != porcupine.Ok {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("cartd-linearizability-%d.html", time.Now().UnixNano()))
		if err := porcupine.VisualizePath(model, info, path); err == nil {
			t.Logf("visualization of the history: %s", path)
		}
		t.Fatalf("the history of %d calls is not linearizable (%s)", len(history), result)
	}
}

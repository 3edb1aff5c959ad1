package engine

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"testing"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// TestSnapshotTxCoversWrites holds writtenTx to store.Tx: every method a write transaction has
// beyond a read transaction's must either be overridden by writtenTx, so that what it writes
// forgets the snapshots showing it, or be listed here as writing nothing a cart's view shows.
// A method added to the contract fails this test until it is placed.
func TestSnapshotTxCoversWrites(t *testing.T) {
	showsNothing := map[string]bool{
		"InsertKey": true, "InsertToken": true, "RevokeToken": true, "RevokeKey": true, "PurgeTokens": true,
		"InsertSession": true, "PurgeSessions": true, "PutIdempotency": true, "PurgeIdempotency": true,
		// The outbox, webhooks and their deliveries, and the marks of abandoned carts, are not in a
		// cart's view; a checkout record is only read for completed carts, which keep no snapshot;
		// CustomerUnits only reads.
		"AppendEvents": true, "PositionEvents": true, "PurgeEvents": true, "MarkAbandoned": true,
		"PutWebhook": true, "DeleteWebhook": true, "LockWebhook": true, "AddDeliveries": true,
		"ClaimDeliveries": true, "RenewLeases": true, "FinishAttempt": true, "RetryDelivery": true,
		"TakeWebhook": true, "RecordDeliveries": true, "ReleaseWebhooks": true,
		"PutCheckoutRecord": true, "CustomerUnits": true,
	}
	f, err := parser.ParseFile(token.NewFileSet(), "snapshot.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	overridden := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil {
			continue
		}
		if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok && id.Name == "writtenTx" {
				overridden[fn.Name.Name] = true
			}
		}
	}
	txType, readType := reflect.TypeFor[store.Tx](), reflect.TypeFor[store.ReadTx]()
	for i := range txType.NumMethod() {
		name := txType.Method(i).Name
		if _, isRead := readType.MethodByName(name); isRead {
			continue
		}
		if overridden[name] == showsNothing[name] {
			t.Errorf("store.Tx.%s: overridden by writtenTx %v, listed as showing nothing %v: want exactly one", name, overridden[name], showsNothing[name])
		}
	}
}

// fixedWriter is the clock and external-commit count a soleWriter store reports.
type fixedWriter struct{ ext uint64 }

func (fixedWriter) SoleWriter() bool          { return true }
func (fixedWriter) Now() time.Time            { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
func (w fixedWriter) ExternalCommits() uint64 { return w.ext }

// TestSnapshotsBounded holds the snapshots to their bound in lines, to the race rule (a read
// that began before a forgetting of what it shows keeps nothing), and to the newest stock row
// whatever order commits report in.
func TestSnapshotsBounded(t *testing.T) {
	s := newSnapshots(fixedWriter{})
	per := maxSnapshotLines / 10
	for num := range int64(25) {
		start, ext := s.begin()
		s.put(num, start, &snapshot{ext: ext, lines: per, skus: []string{fmt.Sprint("SKU-", num%3)}})
		if s.lines > maxSnapshotLines {
			t.Fatalf("after %d snapshots: %d lines kept, over the bound %d", num+1, s.lines, maxSnapshotLines)
		}
	}
	if len(s.byCart) != 10 {
		t.Errorf("%d snapshots kept, want 10", len(s.byCart))
	}

	start, ext := s.begin()
	s.forget(&written{skus: map[string]bool{"SKU-1": true}}, false)
	s.put(100, start, &snapshot{ext: ext, lines: 1, skus: []string{"SKU-1"}})
	s.put(101, start, &snapshot{ext: ext, lines: 1, skus: []string{"SKU-2"}})
	if s.byCart[100] != nil || s.byCart[101] == nil {
		t.Errorf("a read begun before its SKU's stock was written kept its snapshot (%v), or one of another SKU did not (%v)", s.byCart[100] != nil, s.byCart[101] != nil)
	}
	for _, c := range []struct {
		version int64
		stale   bool
	}{{7, true}, {5, true}} { // 7 commits first but reports last
		s.forget(&written{skus: map[string]bool{"SKU-2": true}, stock: map[string]cart.Stock{"SKU-2": {SKU: "SKU-2", Version: c.version}}, runs: 1}, true)
		if s.byCart[101] == nil || !s.byCart[101].stale {
			t.Fatalf("a committed stock write of version %d forgot the snapshot or left it fresh", c.version)
		}
	}
	if got := s.stock["SKU-2"].Version; got != 7 {
		t.Errorf("stock kept at version %d, want the newest, 7", got)
	}
}

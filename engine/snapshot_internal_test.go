package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"testing"

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

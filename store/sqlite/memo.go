package sqlite

import "github.com/cartd/cartd/store"

// The writer's transactions keep memos (store.Memos): every write that could change what a
// memo was derived from goes through the writer's cache and drops it there. Outside the writer
// (read transactions) nothing is kept.
var _ store.Memos = (*txn)(nil)

// KeepMemo leaves v with the writer's cache (store.Memos).
func (t *txn) KeepMemo(cartNum int64, v store.Memo) {
	if t.c != nil {
		t.c.keepMemo(cartNum, v)
	}
}

// TakeMemo returns and forgets the cart's memo (store.Memos).
func (t *txn) TakeMemo(cartNum int64) store.Memo {
	if t.c == nil {
		return nil
	}
	return t.c.takeMemo(cartNum)
}

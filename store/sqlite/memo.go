package sqlite

// KeepMemo leaves v with the writer's cache, which forgets it as store.Tx requires: every
// write that could change what v was derived from goes through the cache and drops it there.
// Outside the writer (read transactions) it keeps nothing.
func (t *txn) KeepMemo(cartNum int64, v any, lines int) {
	if t.c != nil {
		t.c.keepMemo(cartNum, v, lines)
	}
}

// TakeMemo returns and forgets the cart's memo (KeepMemo).
func (t *txn) TakeMemo(cartNum int64) any {
	if t.c == nil {
		return nil
	}
	return t.c.takeMemo(cartNum)
}

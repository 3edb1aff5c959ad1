package postgres

// KeepMemo keeps nothing: a node cannot know what the others write.
func (t *txn) KeepMemo(int64, any, int) {}

// TakeMemo has nothing to give back (KeepMemo).
func (t *txn) TakeMemo(int64) any { return nil }

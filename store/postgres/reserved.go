package postgres

import "context"

const qReservedUnits = `SELECT COALESCE(SUM(reserved), 0)::bigint FROM stock`

// ReservedUnits sums the units reserved over every SKU.
func (t *txn) ReservedUnits(ctx context.Context) (int64, error) {
	var n int64
	_, err := t.queryRow(ctx, "sum reserved units", qReservedUnits, nil, &n)
	return n, err
}

package sqlite

import (
	"context"
	"fmt"
)

const qReservedUnits = `SELECT COALESCE(SUM(reserved), 0) FROM stock`

// ReservedUnits sums the units reserved over every SKU.
func (t *txn) ReservedUnits(ctx context.Context) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, qReservedUnits).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: sum reserved units: %w", dbErr(ctx, err))
	}
	return n, nil
}

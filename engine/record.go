package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// A completed cart is a record (README "Checkout"): what the buyer agreed to pay never moves.
// Checkout stores the cart as it priced it, in the checkout's transaction: every line with its
// unit price, tier, subtotal, discount, tax and total, the catalog facts a receipt shows (SKU,
// names, options, image), the promotions and codes in effect with their amounts, shipping and
// the totals. Every later read of the cart, through any front door, serves that record instead
// of pricing the cart again, so no later change of catalog, stock, settings or promotions, nor
// the deletion of a product or a promotion, changes it. A cart checked out before records were
// kept has none and is priced as it always was.

// recordFormat numbers the encoding of checkoutRecord, so that a later encoding can tell the
// records it did not write.
const recordFormat = 1

// checkoutRecord is a stored record: the cart's view as checkout priced it, without what only
// the checkout call itself reports (its messages and changed lines).
type checkoutRecord struct {
	Format int       `json:"format"`
	View   cart.View `json:"view"`
}

// putRecord stores v, the cart as checkout priced it, as the cart's record.
func putRecord(ctx context.Context, tx store.Tx, v cart.View, at time.Time) error {
	v.Messages, v.ChangedItems, v.RemovedItems, v.Partial = nil, nil, nil, false
	b, err := json.Marshal(checkoutRecord{Format: recordFormat, View: v})
	if err != nil {
		return fmt.Errorf("engine: encode checkout record: %w", err)
	}
	return tx.PutCheckoutRecord(ctx, v.Cart.Num, b, at)
}

// loadRecord returns the record of a completed cart; ok is false when it has none.
func loadRecord(ctx context.Context, tx store.ReadTx, num int64) (v cart.View, ok bool, err error) {
	b, err := tx.CheckoutRecord(ctx, num)
	if cart.ErrorCode(err) == cart.NotFound {
		return cart.View{}, false, nil
	}
	if err != nil {
		return cart.View{}, false, err
	}
	v, err = decodeRecord(b)
	return v, err == nil, err
}

// decodeRecord reads what putRecord stored.
func decodeRecord(b []byte) (cart.View, error) {
	var rec checkoutRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return cart.View{}, fmt.Errorf("engine: decode checkout record: %w", err)
	}
	if rec.Format != recordFormat {
		return cart.View{}, fmt.Errorf("engine: checkout record of format %d, not %d", rec.Format, recordFormat)
	}
	v := rec.View
	// encoding/json reads a null RawMessage as the text null; a cart or line without
	// metadata has none.
	v.Cart.Metadata = noNull(v.Cart.Metadata)
	for _, list := range [][]cart.LineView{v.Lines, v.ExpiredLines, v.Unavailable} {
		for i := range list {
			list[i].Item.Metadata = noNull(list[i].Item.Metadata)
		}
	}
	return v, nil
}

func noNull(m json.RawMessage) json.RawMessage {
	if string(m) == "null" {
		return nil
	}
	return m
}

// recorded returns the record of cart c when c is completed and has one: what a read of c
// serves instead of pricing it.
func recorded(ctx context.Context, tx store.ReadTx, c cart.Cart) (cart.View, bool, error) {
	if c.Status != cart.StatusCompleted {
		return cart.View{}, false, nil
	}
	return loadRecord(ctx, tx, c.Num)
}

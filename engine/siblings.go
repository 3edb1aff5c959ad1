package engine

import (
	"context"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// VariantStock is a variant with its SKU's stock.
type VariantStock struct {
	Variant cart.Variant
	Stock   cart.Stock
}

// Siblings returns the live variants of the products of a cart's lines, each with its stock,
// keyed by product number (scope carts:read): what a front door shows as the other options of
// an item (JackThreads' options, with sold_out). A deleted product has none. It is a read of
// its own, after the call that produced the view: the stock figures are those of that
// instant.
func (e *Engine) Siblings(ctx context.Context, p auth.Principal, v cart.View) (map[int64][]VariantStock, error) {
	if err := require(p, auth.CartsRead); err != nil {
		return nil, err
	}
	ids := map[int64]string{}
	for _, lines := range [][]cart.LineView{v.Lines, v.ExpiredLines, v.Unavailable} {
		for _, l := range lines {
			ids[l.Product.Num] = l.Product.ID
		}
	}
	out := make(map[int64][]VariantStock, len(ids))
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		for num, id := range ids {
			prod, err := tx.Product(ctx, id)
			if cart.ErrorCode(err) == cart.NotFound {
				continue
			}
			if err != nil {
				return err
			}
			if prod.Num != num {
				continue // deleted, and its id since given to another product
			}
			vs := make([]VariantStock, 0, len(prod.Variants))
			for _, variant := range prod.Variants {
				st, err := tx.Stock(ctx, variant.SKU)
				if err != nil {
					return err
				}
				st.SKU = variant.SKU
				vs = append(vs, VariantStock{Variant: variant, Stock: st})
			}
			out[num] = vs
		}
		return nil
	})
	return out, err
}

package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// Lists (docs/lists.md): one page at a time, in a stable order, after a cursor. Every list
// reads one snapshot; filters are answered by indexes (store/*/migrations/0012_lists.sql).

// Bounds of a page.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// The filters of the lists are the store's: the engine checks them, fills their limits and
// keeps customers to their own carts.
type (
	CartFilter      = store.CartFilter
	CartSummary     = store.CartSummary
	ProductFilter   = store.ProductFilter
	StockFilter     = store.StockFilter
	HoldFilter      = store.HoldFilter
	Hold            = store.Hold
	PromotionFilter = store.PromotionFilter
	SaleFilter      = store.SaleFilter
)

// Page is one page of a list: its entries, whether more follow the last, and the instant it
// was read (a sale's status depends on it).
type Page[T any] struct {
	Data    []T
	HasMore bool
	Now     time.Time
}

// pageLimit checks a requested limit (0: the default) and returns it.
func pageLimit(limit int) (int, error) {
	if limit == 0 {
		return DefaultListLimit, nil
	}
	if limit < 1 || limit > MaxListLimit {
		return 0, cart.InvalidField("invalid_limit", "limit", "limit must be 1 to %d", MaxListLimit)
	}
	return limit, nil
}

// list reads one page: it asks the store for one entry more than the page holds, to learn
// whether more follow, and drops it.
func list[T any](ctx context.Context, e *Engine, limit int, read func(ctx context.Context, tx store.ReadTx, limit int) ([]T, error)) (Page[T], error) {
	n, err := pageLimit(limit)
	if err != nil {
		return Page[T]{}, err
	}
	var page Page[T]
	err = e.st.Read(ctx, func(tx store.ReadTx) error {
		data, err := read(ctx, tx, n+1)
		if err != nil {
			return err
		}
		page = Page[T]{Data: data, Now: tx.Now()}
		if len(data) > n {
			page.Data, page.HasMore = data[:n], true
		}
		return nil
	})
	if page.Data == nil {
		page.Data = []T{}
	}
	return page, err
}

// ListCarts lists carts newest first (scope carts:read). A customer token lists only its own
// customer's carts: asking for another customer's finds none.
func (e *Engine) ListCarts(ctx context.Context, p auth.Principal, f CartFilter) (Page[CartSummary], error) {
	if err := require(p, auth.CartsRead); err != nil {
		return Page[CartSummary]{}, err
	}
	if f.Status != nil {
		switch *f.Status {
		case cart.StatusActive, cart.StatusCompleted, cart.StatusMerged:
		default:
			return Page[CartSummary]{}, cart.InvalidField("invalid_status", "status", "status must be active, completed or merged")
		}
	}
	if p.IsCustomer() {
		if f.CustomerID != nil && *f.CustomerID != p.CustomerID {
			return Page[CartSummary]{Data: []CartSummary{}}, nil
		}
		own := p.CustomerID
		f.CustomerID = &own
	}
	return list(ctx, e, f.Limit, func(ctx context.Context, tx store.ReadTx, limit int) ([]CartSummary, error) {
		f.Limit = limit
		return tx.ListCarts(ctx, f)
	})
}

// ListProducts lists live products newest first, optionally those whose id, name or one of
// whose SKUs starts with a prefix (scope catalog:read).
func (e *Engine) ListProducts(ctx context.Context, p auth.Principal, f ProductFilter) (Page[cart.Product], error) {
	if err := require(p, auth.CatalogRead); err != nil {
		return Page[cart.Product]{}, err
	}
	if len(f.Prefix) > 200 {
		return Page[cart.Product]{}, cart.InvalidField("invalid_query", "q", "q is at most 200 characters")
	}
	return list(ctx, e, f.Limit, func(ctx context.Context, tx store.ReadTx, limit int) ([]cart.Product, error) {
		f.Limit = limit
		return tx.ListProducts(ctx, f)
	})
}

// ListStock lists the stock of every SKU ever stocked, in SKU order (scope catalog:read).
func (e *Engine) ListStock(ctx context.Context, p auth.Principal, f StockFilter) (Page[cart.Stock], error) {
	if err := require(p, auth.CatalogRead); err != nil {
		return Page[cart.Stock]{}, err
	}
	if len(f.SKUPrefix) > maxSKULen {
		return Page[cart.Stock]{}, cart.InvalidField("invalid_sku", "sku_prefix", "sku_prefix is at most %d characters", maxSKULen)
	}
	return list(ctx, e, f.Limit, func(ctx context.Context, tx store.ReadTx, limit int) ([]cart.Stock, error) {
		f.Limit = limit
		rows, err := tx.ListStock(ctx, f)
		for i := range rows {
			if err == nil {
				rows[i].Scale, err = skuScale(ctx, tx, rows[i].SKU)
			}
		}
		return rows, err
	})
}

// ListHolds lists the cart lines holding a SKU's stock, newest first. It shows carts and
// their customers, so it needs both catalog:read and carts:read (admin has both); a customer
// token has no catalog scope.
func (e *Engine) ListHolds(ctx context.Context, p auth.Principal, f HoldFilter) (Page[Hold], error) {
	for _, sc := range []auth.Scope{auth.CatalogRead, auth.CartsRead} {
		if err := require(p, sc); err != nil {
			return Page[Hold]{}, err
		}
	}
	if err := validSKU("sku", f.SKU); err != nil {
		return Page[Hold]{}, err
	}
	return list(ctx, e, f.Limit, func(ctx context.Context, tx store.ReadTx, limit int) ([]Hold, error) {
		f.Limit = limit
		return tx.ListHolds(ctx, f)
	})
}

// ListPromotions lists live promotions newest first (scope catalog:read).
func (e *Engine) ListPromotions(ctx context.Context, p auth.Principal, f PromotionFilter) (Page[cart.Promotion], error) {
	if err := require(p, auth.CatalogRead); err != nil {
		return Page[cart.Promotion]{}, err
	}
	if f.After != "" {
		f.After, _ = promotionCode(f.After)
	}
	return list(ctx, e, f.Limit, func(ctx context.Context, tx store.ReadTx, limit int) ([]cart.Promotion, error) {
		f.Limit = limit
		return tx.ListPromotions(ctx, f)
	})
}

// ListSales lists sales newest first (scope catalog:read).
func (e *Engine) ListSales(ctx context.Context, p auth.Principal, f SaleFilter) (Page[cart.Sale], error) {
	if err := require(p, auth.CatalogRead); err != nil {
		return Page[cart.Sale]{}, err
	}
	return list(ctx, e, f.Limit, func(ctx context.Context, tx store.ReadTx, limit int) ([]cart.Sale, error) {
		f.Limit = limit
		return tx.ListSales(ctx, f)
	})
}

// ReleaseReservations gives back to the stock every unit a cart's lines hold, as if each
// reservation had lapsed now (scope admin): the lines stay, expired and out of the totals, and
// a quantity change reserves them again from what is free. It is the operator's answer to a
// cart sitting on units another shopper needs. The cart gets a new version if anything was
// held (opt.IfMatch guards against releasing a cart that changed since it was looked at), and
// a message saying what was released; the release is logged with who asked.
func (e *Engine) ReleaseReservations(ctx context.Context, p auth.Principal, num int64, opt Options) (cart.View, error) {
	if err := require(p, auth.Admin); err != nil {
		return cart.View{}, err
	}
	var units, lines int64
	v, err := e.mutate(ctx, p, num, opt, func(m *mutation) error {
		units, lines = 0, 0
		err := m.releaseHeldFor(func(l *cart.Line) bool {
			units += l.Item.ReservedQuantity
			lines++
			return true
		}, func(cart.Line, time.Time) ReleaseReason { return ReleaseOperator })
		if err != nil {
			return err
		}
		text := "no line held any stock"
		if units > 0 {
			text = fmt.Sprintf("%d %s held by %d %s released", units, plural(units, "unit", "units"), lines, plural(lines, "line were", "lines were"))
		}
		return m.note([]cart.Message{{Type: cart.Info, Code: "reservations_released", Text: text}})
	})
	if err == nil {
		e.log.InfoContext(ctx, "reservations released", "cart", num, "units", units, "lines", lines,
			"by", p.Label(), "version", v.Cart.Version)
	}
	return v, err
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

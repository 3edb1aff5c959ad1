// Package store is the contract between the engine and the databases under it. The engine owns
// the transaction (what goes in it and in which order); a store runs it, all or nothing, and
// speaks in domain types. Implementations: store/sqlite and, for many nodes, store/postgres.
// The contract suite in store/storetest holds every implementation to the same behaviour.
package store

import (
	"context"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
)

// Store runs transactions.
type Store interface {
	// Read runs fn in a read-only transaction seeing one consistent snapshot.
	Read(ctx context.Context, fn func(ReadTx) error) error
	// Write runs fn in a read-write transaction and commits when fn returns nil; any error
	// rolls everything back. Where the database can raise a serialization failure, Write
	// re-runs the whole of fn, so fn must have no effects outside tx. When Write returns nil
	// the change is durable to the store's durability setting.
	Write(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database answers; used by /readyz.
	Ping(ctx context.Context) error
	Close() error
}

// ReadTx reads. Lookups of one thing that does not exist return a *cart.Error with
// cart.NotFound; any other error is the store's own failure.
type ReadTx interface {
	EventReader

	// Now is the transaction's instant: one clock reading for the whole transaction (the
	// database's clock where nodes must agree on it).
	Now() time.Time

	Settings(ctx context.Context) (cart.Settings, error)

	// Cart returns the cart without its lines. In a Tx it also locks the cart's row until
	// commit, so concurrent changes to one cart serialize. A Tx that locks two carts (a
	// merge) takes them in ascending Num order, so that two such transactions cannot
	// deadlock on a database with row locks.
	Cart(ctx context.Context, num int64) (cart.Cart, error)
	// ActiveCartOf returns a customer's most recently active cart of status active (greatest
	// LastActivity, then greatest Num): "the customer's cart" of DESIGN §9. NotFound when the
	// customer has none, and for customer "" (guest carts are nobody's). It does not lock: a
	// Tx that goes on to change the cart locks it with Cart, in the order above, and checks
	// that it is still the one.
	ActiveCartOf(ctx context.Context, customerID string) (cart.Cart, error)
	// Lines returns a cart's items, oldest first, each with its variant, product, stock and
	// the sale its variant names (zero when it names none or one not stored).
	Lines(ctx context.Context, cartNum int64) ([]cart.Line, error)

	// Product returns a product with its variants (deleted ones excluded); deleted products
	// are NotFound.
	Product(ctx context.Context, id string) (cart.Product, error)
	// VariantBySKU, VariantByID and VariantByNum find a live (not deleted) variant and its
	// product (without variants).
	VariantBySKU(ctx context.Context, sku string) (cart.Variant, cart.Product, error)
	VariantByID(ctx context.Context, id string) (cart.Variant, cart.Product, error)
	VariantByNum(ctx context.Context, num int64) (cart.Variant, cart.Product, error)

	// Stock returns a SKU's stock; a SKU never stocked has a zero Stock, not NotFound. In a
	// Tx it locks the row until commit.
	Stock(ctx context.Context, sku string) (cart.Stock, error)
	// StockHolders returns the items holding a SKU's stock (ReservedQuantity > 0).
	StockHolders(ctx context.Context, sku string) ([]cart.Item, error)
	// ExpiredHolders returns the items holding a SKU's stock whose reservation lapsed at or
	// before now (ReservedUntil <= now), in ascending Num order: the stock a cart short of
	// that SKU may take back at once.
	ExpiredHolders(ctx context.Context, sku string, now time.Time) ([]cart.Item, error)

	// ExpiredReservations returns at most limit items holding stock (ReservedQuantity > 0)
	// whose reservation lapsed at or before now, earliest lapse first (then ascending Num):
	// the sweeper's work. It does not lock; the release re-reads each item under lock.
	ExpiredReservations(ctx context.Context, now time.Time, limit int) ([]cart.Item, error)
	// UnavailableReservations returns at most limit items holding stock whose variant is
	// inactive or deleted, whose product is deleted, or whose variant's sale (if stored) has
	// not started or has ended at now, in ascending Num order. Like ExpiredReservations it
	// does not lock. (A line unavailable only for want of a price in its cart's currency is
	// not found here; the cart's next write releases it.)
	UnavailableReservations(ctx context.Context, now time.Time, limit int) ([]cart.Item, error)
	// ReservedUnits returns the units reserved over every SKU (the sum of stock.reserved): the
	// stock carts hold right now, which the metrics report at scrape time.
	ReservedUnits(ctx context.Context) (int64, error)

	// Sale returns a sale by the id the shop gave it; NotFound if there is none.
	Sale(ctx context.Context, id string) (cart.Sale, error)

	// KeyByHash and TokenByHash find credentials by digest, revoked or expired ones included
	// (the caller decides); NotFound when none has that digest.
	KeyByHash(ctx context.Context, h auth.Digest) (auth.Key, error)
	TokenByHash(ctx context.Context, h auth.Digest) (auth.Token, error)
	// SessionByHash finds a storefront session by the digest of its secret, expired or not
	// (the caller decides); NotFound when none has that digest.
	SessionByHash(ctx context.Context, h auth.Digest) (auth.Session, error)

	// Keys returns every API key, revoked ones included, in ascending Num order: what an
	// operator lists. The secrets are never stored; the digests come back as stored.
	Keys(ctx context.Context) ([]auth.Key, error)
	// AbandonedCarts returns the nums of at most limit guest carts (customer "") of status
	// active whose LastActivity is before the instant, leaving out those a storefront session
	// unexpired at now still names, in ascending Num order: housekeeping's candidates, read
	// without locking (the purge locks each one and checks it again).
	AbandonedCarts(ctx context.Context, before, now time.Time, limit int) ([]int64, error)

	// Idempotency returns the record of a key within its scope, expired or not (the caller
	// decides); NotFound when there is none.
	Idempotency(ctx context.Context, scope, key string) (IdempotencyRecord, error)

	// Promotion returns a promotion by its code (upper case); a withdrawn one, or none, is
	// NotFound with reason "promotion_not_found".
	Promotion(ctx context.Context, code string) (cart.Promotion, error)
	// AutoPromotions returns the automatic promotions pricing must consider at an instant:
	// active, not withdrawn, started by at and not ended by it (EndsAt > at), in code order.
	AutoPromotions(ctx context.Context, at time.Time) ([]cart.Promotion, error)
	// Coupons returns the codes applied to a cart in the order they were applied (AddedAt,
	// then code), each with its promotion as stored, a withdrawn one included.
	Coupons(ctx context.Context, cartNum int64) ([]cart.Coupon, error)
}

// Tx reads and writes.
type Tx interface {
	ReadTx
	EventWriter

	PutSettings(ctx context.Context, s cart.Settings) error

	// InsertCart stores a new cart and sets its Num.
	InsertCart(ctx context.Context, c *cart.Cart) error
	// UpdateCart stores a cart's fields (status, customer, version, metadata, merged_into,
	// times).
	UpdateCart(ctx context.Context, c cart.Cart) error

	// InsertItem stores a new item of c.CartNum and sets its Num.
	InsertItem(ctx context.Context, it *cart.Item) error
	// UpdateItem stores an item's quantity, reservation, prices, notes and metadata.
	UpdateItem(ctx context.Context, it cart.Item) error
	DeleteItem(ctx context.Context, itemNum int64) error
	DeleteItems(ctx context.Context, cartNum int64) error

	// PutProduct creates or replaces a product by ID with its variants, setting Num on the
	// product and every variant. A variant keeps its Num across writes as long as its ID
	// stays; variants left out are marked deleted (items pointing at them remain). A SKU
	// held by another live variant is Invalid with reason "duplicate_sku".
	PutProduct(ctx context.Context, p *cart.Product) error
	// DeleteProduct marks a product and its variants deleted; NotFound if there is none.
	DeleteProduct(ctx context.Context, id string) error

	// PutSale creates or replaces a sale by ID, setting its Num; a sale that exists keeps its
	// Num and CreatedAt (written back into s). StartsAt after EndsAt is the caller's to refuse.
	PutSale(ctx context.Context, s *cart.Sale) error

	// PutStock creates or replaces a SKU's stock row, Version included as given: the engine
	// bumps it with every write of the row.
	PutStock(ctx context.Context, s cart.Stock) error

	// InsertKey and InsertToken store new credentials and set their Num.
	InsertKey(ctx context.Context, k *auth.Key) error
	InsertToken(ctx context.Context, t *auth.Token) error
	// RevokeToken marks a customer's token revoked at the given instant; NotFound if the
	// customer has no such token.
	RevokeToken(ctx context.Context, customerID string, num int64, at time.Time) error
	// RevokeKey marks an API key revoked at the given instant; NotFound ("key_not_found") if
	// there is no such key. Revoking it again succeeds and keeps the first instant.
	RevokeKey(ctx context.Context, num int64, at time.Time) error
	// PurgeTokens deletes at most limit customer tokens that expired, or were revoked, before
	// the instant, and returns how many it deleted.
	PurgeTokens(ctx context.Context, before time.Time, limit int) (int, error)
	// DeleteCart deletes a cart with its items, coupons and storefront sessions, and the carts
	// merged into it (status merged, no lines, MergedInto naming it or a cart so deleted), so
	// that no MergedInto is left naming a cart that is gone. It does not touch stock: the
	// caller releases what the items hold first. NotFound ("cart_not_found") if there is no
	// such cart.
	DeleteCart(ctx context.Context, num int64) error
	// InsertSession stores a new storefront session and sets its Num.
	InsertSession(ctx context.Context, s *auth.Session) error
	// PurgeSessions deletes at most limit sessions that expired before the instant, and
	// returns how many it deleted (their carts stay).
	PurgeSessions(ctx context.Context, before time.Time, limit int) (int, error)

	// PutIdempotency stores a key's record, replacing a record of the same scope and key only
	// if that one expired by r.CreatedAt. A live record is Conflict with reason
	// "idempotency_key_taken": another transaction (on another node) recorded the key first,
	// and the caller's transaction must roll back so that its change is not applied twice.
	PutIdempotency(ctx context.Context, r IdempotencyRecord) error
	// PurgeIdempotency deletes at most limit records that expired before the instant, and
	// returns how many it deleted: housekeeping in small batches, so it never holds the
	// writer for long.
	PurgeIdempotency(ctx context.Context, before time.Time, limit int) (int, error)

	// PutPromotion creates or replaces a promotion by Code, setting its Num. A promotion that
	// exists, withdrawn or not, keeps its Num and CreatedAt (written back into p) and is
	// revived.
	PutPromotion(ctx context.Context, p *cart.Promotion) error
	// DeletePromotion withdraws a promotion: it is marked deleted and kept, so that carts
	// whose coupons name it can still show it. NotFound ("promotion_not_found") if there is no
	// live promotion with the code.
	DeletePromotion(ctx context.Context, code string) error
	// AddCoupon applies a code to a cart; Conflict with reason "coupon_already_applied" if
	// the cart has it already. The code must name a promotion (the engine checks).
	AddCoupon(ctx context.Context, c cart.Coupon) error
	// RemoveCoupon takes a code off a cart; NotFound ("coupon_not_found") if the cart does
	// not have it.
	RemoveCoupon(ctx context.Context, cartNum int64, code string) error

	// KeepMemo leaves v, which the caller derived from a cart as its transaction leaves the
	// cart (its lines, priced), with the store, for the cart's next change to take back
	// (TakeMemo) instead of reading and deriving it again. lines is its size in cart lines,
	// which bounds what memos hold. The store keeps it only while it can vouch that nothing v
	// was derived from changed: every write of the cart's row, items or coupons, of the
	// catalog, sales, promotions or settings, a rollback of the keeping transaction, and a
	// write by another process forget it. Stock writes do not: v must not depend on stock. A
	// store that cannot know all writes (several nodes share store/postgres) keeps nothing.
	KeepMemo(cartNum int64, v any, lines int)
	// TakeMemo returns what KeepMemo left for a cart and is still valid, or nil, and forgets
	// it: the caller owns it and may change it. A take is not undone by a rollback (what was
	// taken may have been changed), whereas a rolled-back keep is: the memo before it, unless
	// taken, is the cart's again.
	TakeMemo(cartNum int64) any
}

// IdempotencyRecord is the stored outcome of a call made with an Idempotency-Key: written in
// the same transaction as the call's change, so a change is never applied without its record,
// nor recorded without being applied.
type IdempotencyRecord struct {
	Scope       string // who called what: principal, method and path
	Key         string
	RequestHash [32]byte // SHA-256 of the request body
	Status      int
	Header      map[string]string // the response headers to replay (content type, ETag, ...)
	Body        []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

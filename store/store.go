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
	// LastActivity, then greatest Num): "the customer's cart" of ARCHITECTURE.md §Decisions. NotFound when the
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
	// Tx it locks the row until commit, or gives the same guarantee at PutStock (PostgreSQL's
	// stock buckets): a write decided on figures that changed since is never committed.
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
	// not started or has ended at now, or which has no price in its cart's currency, in
	// ascending Num order. Like ExpiredReservations it does not lock.
	UnavailableReservations(ctx context.Context, now time.Time, limit int) ([]cart.Item, error)
	// ReservedUnits returns the units reserved over every SKU (the sum of stock.reserved): the
	// stock carts hold right now, which the metrics report at scrape time.
	ReservedUnits(ctx context.Context) (int64, error)
	// AddressHeld returns the units of sku held, by reservations live at now (ReservedUntil
	// after now), in the active guest carts (customer "") of the storefront sessions that
	// began from client address addr: what one address's anonymous carts keep from others.
	// In a Tx, called after Stock has locked the SKU's row, it sees every reservation
	// committed before that lock was granted, so that the cap on it holds across nodes.
	AddressHeld(ctx context.Context, addr, sku string, now time.Time) (int64, error)
	// SessionAddr returns the client address of the storefront session whose cart cartNum is
	// (the address AddressHeld counts that cart under), "" when it is no session's cart or
	// its session recorded none. A cart's session never changes once stored.
	SessionAddr(ctx context.Context, cartNum int64) (string, error)

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

	// CheckoutRecord returns what PutCheckoutRecord stored for a cart, as stored; NotFound
	// ("checkout_record_not_found") when the cart has none (it was never checked out, or was
	// checked out before records were kept).
	CheckoutRecord(ctx context.Context, cartNum int64) ([]byte, error)

	// Lists (docs/lists.md). Each returns at most f.Limit entries in a stable order, after the
	// cursor the filter names; the caller asks for one more than it shows to learn whether
	// there are more. A cursor naming an id that was never stored is Invalid with reason
	// "unknown_cursor" (numbered cursors need no lookup: any number bounds the walk).

	// ListCarts returns carts newest first (descending Num) with their line and unit counts.
	ListCarts(ctx context.Context, f CartFilter) ([]CartSummary, error)
	// ListProducts returns live products with their live variants, newest first.
	ListProducts(ctx context.Context, f ProductFilter) ([]cart.Product, error)
	// ListStock returns stock rows in ascending SKU order (bytewise).
	ListStock(ctx context.Context, f StockFilter) ([]cart.Stock, error)
	// ListHolds returns the items holding a SKU's stock (ReservedQuantity > 0), newest item
	// first, each with its cart's customer.
	ListHolds(ctx context.Context, f HoldFilter) ([]Hold, error)
	// ListPromotions returns live (not withdrawn) promotions, newest first.
	ListPromotions(ctx context.Context, f PromotionFilter) ([]cart.Promotion, error)
	// ListSales returns sales, newest first.
	ListSales(ctx context.Context, f SaleFilter) ([]cart.Sale, error)
}

// CartFilter selects carts for ListCarts; nil or zero fields do not filter.
type CartFilter struct {
	CustomerID   *string      // exactly this customer ("" selects guest carts)
	Status       *cart.Status // exactly this status
	UpdatedAfter time.Time    // UpdatedAt strictly after
	HasItems     *bool        // with at least one line, or with none
	Before       int64        // cursor: only carts with Num below it; 0 starts at the newest
	Limit        int
}

// CartSummary is a cart without its lines, with how many lines and units it has.
type CartSummary struct {
	Cart  cart.Cart
	Lines int64
	Units int64
}

// ProductFilter selects products for ListProducts.
type ProductFilter struct {
	// Prefix, when set, keeps the products whose id or one of whose live variants' SKU
	// starts with it (bytewise), or whose name starts with it ignoring the case of ASCII
	// letters.
	Prefix string
	After  string // cursor: the id of the last product of the previous page
	Limit  int
}

// StockFilter selects stock rows for ListStock.
type StockFilter struct {
	SKUPrefix    string // SKU starts with it (bytewise)
	MaxAvailable *int64 // OnHand - Reserved at or below it
	After        string // cursor: only SKUs after it
	Limit        int
}

// HoldFilter selects the items holding one SKU's stock for ListHolds.
type HoldFilter struct {
	SKU    string
	Before int64 // cursor: only items with Num below it; 0 starts at the newest
	Limit  int
}

// Hold is an item holding stock, with the customer of its cart ("" for a guest cart).
type Hold struct {
	Item       cart.Item
	CustomerID string
}

// PromotionFilter pages through promotions for ListPromotions.
type PromotionFilter struct {
	After string // cursor: the code of the last promotion of the previous page
	Limit int
}

// SaleFilter pages through sales for ListSales.
type SaleFilter struct {
	After string // cursor: the id of the last sale of the previous page
	Limit int
}

// Tx reads and writes.
type Tx interface {
	ReadTx
	EventWriter

	PutSettings(ctx context.Context, s cart.Settings) error

	// InsertCart stores a new cart and sets its Num.
	InsertCart(ctx context.Context, c *cart.Cart) error
	// UpdateCart stores a cart's fields (status, customer, version, metadata, merged_into,
	// times). A cart that does not exist is NotFound, from the call or, since a store may send
	// the write with the transaction's next statement or its commit (store/postgres does),
	// from that statement or from Write, which then rolls back. Callers update carts they
	// read (and, in a Tx, locked) in the same transaction.
	UpdateCart(ctx context.Context, c cart.Cart) error

	// CustomerUnits returns how many units of a variant the customer's carts other than
	// exceptCart hold: its active carts, and its completed carts last updated (completed) at
	// or after completedSince. It is how a quantity rule's max_per_customer is counted, in the
	// transaction that goes on to change a line, so the count must not go stale before the
	// commit: where transactions run concurrently (PostgreSQL), it first locks a row standing
	// for the pair (customer, variant) until commit, so two transactions counting one pair,
	// on any node, run one after the other and the second counts what the first wrote. For
	// customer "" (guest carts are nobody's) it is 0.
	CustomerUnits(ctx context.Context, customerID string, variantNum, exceptCart int64, completedSince time.Time) (int64, error)

	// InsertItem stores a new item of c.CartNum and sets its Num.
	InsertItem(ctx context.Context, it *cart.Item) error
	// UpdateItem stores an item's quantity, reservation, prices, notes and metadata. An item
	// that does not exist is NotFound, from the call or later, as for UpdateCart.
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
	// The Conflict may come from the call or, as for UpdateCart, from Write.
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

	// PutCheckoutRecord stores the record of a cart's checkout (the engine's encoding of the
	// cart as priced then), in the checkout's transaction. A record is written once and never
	// changed: a second one for the cart is Conflict ("checkout_record_exists"). It goes with
	// its cart when the cart is deleted.
	PutCheckoutRecord(ctx context.Context, cartNum int64, record []byte, at time.Time) error
}

// Memo is what the engine derived from a cart as a transaction leaves it (its lines, priced),
// left with a store that can keep it (Memos). Len is its size in cart lines, which bounds
// what a store keeps.
type Memo interface {
	Len() int
}

// Memos is a capability a store's write transaction may have, checked once per call: keeping
// a Memo for the cart's next change to take back instead of reading and deriving it again. A
// store that cannot know every write (several nodes share store/postgres) does not have it.
type Memos interface {
	// KeepMemo leaves m with the store. The store keeps it only while it can vouch that
	// nothing m was derived from changed: every write of the cart's row, items or coupons, of
	// the catalog, sales, promotions or settings, a rollback of the keeping transaction, and a
	// write by another process forget it. Stock writes do not: m must not depend on stock.
	KeepMemo(cartNum int64, m Memo)
	// TakeMemo returns what KeepMemo left for a cart and is still valid, or nil, and forgets
	// it: the caller owns it and may change it. A take is not undone by a rollback (what was
	// taken may have been changed), whereas a rolled-back keep is: the memo before it, unless
	// taken, is the cart's again.
	TakeMemo(cartNum int64) Memo
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

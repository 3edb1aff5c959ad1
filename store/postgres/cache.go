package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store/internal/table"
)

// # The node's cache of settings and automatic promotions
//
// Every change of a cart reads the settings and the automatic promotions in effect; they
// change rarely, by an operator's call. Each node keeps them in memory (nodeCache), labelled
// with the value of the one-row table cache_version they were read at, and every transaction
// reads cache_version in its first round trip, with BEGIN and the clock, at no extra cost. A
// transaction uses the cache only when the label equals what it read; otherwise it reads the
// rows and, if they are newer than what the cache holds, replaces it.
//
// Every write of those tables (PutSettings, PutPromotion, DeletePromotion) bumps
// cache_version in the same transaction, and notifies the channel cacheChannel names (one per
// database and schema, so that schemas sharing a server do not hear each other). Each node
// listens on it and empties its cache when told, so that memory is not held by what is stale;
// but correctness rests on the version alone: a node that missed a notification (its
// listening connection was down, or it does not listen) finds the version moved at its next
// transaction, and reads again. A missed notification costs a read, never a stale price.
//
// What the cache holds is never older than its label: a transaction reads the rows after it
// read the version (in a REPEATABLE READ transaction, in the same snapshot). A transaction that wrote one of the tables reads them from the
// database until it ends (cacheDirty), since the cache cannot hold what it has not committed.

// nodeCache is one node's cache; its zero value is empty.
type nodeCache struct {
	mu sync.Mutex
	// version is the cache_version the entries were read at; 0 means empty.
	version int64
	// settings, when settingsOK, is the settings row as read (found false: no row, the
	// defaults apply) with its revision.
	settingsOK    bool
	settings      cart.Settings
	settingsFound bool
	settingsRev   int64
	// autos, when autosOK, is every active, live automatic promotion, in code order, whatever
	// its validity window (AutoPromotions filters by the instant).
	autosOK bool
	autos   []cart.Promotion
}

// resetTo empties the cache unless it is labelled version, and labels it so. Any other
// label is reset, an older one as well as a newer one: a transaction that began before a
// change only costs a re-read to the others, and a database restored to an earlier version
// (then counting up to the label again with other rows) cannot be mistaken for the one the
// cache was filled from.
func (c *nodeCache) resetTo(version int64) {
	if version == 0 || version != c.version {
		c.version = version
		c.settingsOK, c.settings, c.settingsFound, c.settingsRev = false, cart.Settings{}, false, 0
		c.autosOK, c.autos = false, nil
	}
}

// clear empties the cache (a notification said it is stale).
func (c *nodeCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetTo(0)
}

// usable says whether the transaction may read the cache.
func (t *txn) cacheUsable() bool {
	return t.cache != nil && !t.cacheDirty && t.cacheVersion > 0
}

// cachedSettings serves Settings from the cache when its label is the transaction's version;
// ok is false when the transaction must read the row itself (and then store it with
// keepSettings).
func (t *txn) cachedSettings() (s cart.Settings, found bool, revision int64, ok bool) {
	if !t.cacheUsable() {
		return s, false, 0, false
	}
	c := t.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == t.cacheVersion && c.settingsOK {
		return c.settings, c.settingsFound, c.settingsRev, true
	}
	return s, false, 0, false
}

// keepSettings stores settings the transaction read, labelled with its version: they were
// read after that version, so they are never older than it.
func (t *txn) keepSettings(s cart.Settings, found bool, revision int64) {
	if !t.cacheUsable() {
		return
	}
	c := t.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetTo(t.cacheVersion)
	if c.version == t.cacheVersion {
		c.settingsOK, c.settings, c.settingsFound, c.settingsRev = true, s, found, revision
	}
}

// qAllAutoPromotions walks the partial index promotions_auto, in code order, whatever the
// validity window.
const qAllAutoPromotions = `
	SELECT ` + table.PromotionColumns + ` FROM promotions pr
	WHERE pr.method = 'auto' AND pr.active AND NOT pr.deleted
	ORDER BY pr.code`

// cachedAutoPromotions serves AutoPromotions from the cache, filling it when it must; ok is
// false when the cache cannot be used.
func (t *txn) cachedAutoPromotions(ctx context.Context, at time.Time) ([]cart.Promotion, bool, error) {
	if !t.cacheUsable() {
		return nil, false, nil
	}
	c := t.cache
	c.mu.Lock()
	if c.version == t.cacheVersion && c.autosOK {
		all := c.autos
		c.mu.Unlock()
		return inEffect(all, at), true, nil
	}
	c.mu.Unlock()
	var (
		r   promotionRow
		all []cart.Promotion
	)
	err := t.query(ctx, "get automatic promotions", qAllAutoPromotions, nil, r.Dest(), func() error {
		p, err := r.promotion()
		if err != nil {
			return fmt.Errorf("promotion %s: %w", r.Code(), err)
		}
		all = append(all, p)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	c.resetTo(t.cacheVersion)
	if c.version == t.cacheVersion {
		c.autosOK, c.autos = true, all
	}
	c.mu.Unlock()
	return inEffect(all, at), true, nil
}

// inEffect is the promotions of all whose validity window holds at (a zero time leaves that
// side open), as qAutoPromotions selects them.
func inEffect(all []cart.Promotion, at time.Time) []cart.Promotion {
	var out []cart.Promotion
	for _, p := range all {
		if (p.StartsAt.IsZero() || !p.StartsAt.After(at)) && (p.EndsAt.IsZero() || p.EndsAt.After(at)) {
			out = append(out, p)
		}
	}
	return slices.Clip(out)
}

// bumpCache makes this transaction's change to a cached table known to every node: once per
// transaction, cache_version moves on and the nodes are notified, both with the next
// statement or the COMMIT. PostgreSQL delivers the notification only if the transaction
// commits.
func (t *txn) bumpCache() {
	if t.cacheDirty {
		return
	}
	t.cacheDirty = true
	t.later("bump cache version", nil, `UPDATE cache_version SET version = version + 1 WHERE id = 1`)
	if t.channel != "" {
		t.later("notify cache", nil, `SELECT pg_notify($1, '')`, t.channel)
	}
}

// qCacheChannel names the notification channel of this database and schema.
const qCacheChannel = `SELECT 'cartd_cache_' || left(md5(current_database() || '.' || current_schema()), 16)`

// listen empties the cache whenever another node (or this one) notifies that cached tables
// changed, until ctx ends. It reconnects after a failure, emptying the cache then too, since
// notifications sent meanwhile are lost (the version check would catch them anyway).
func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig) {
	defer close(s.listenDone)
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, cfg)
		s.cache.clear()
		if ctx.Err() != nil {
			return
		}
		slog.Debug("postgres: cache notifications: reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN "`+s.channel+`"`); err != nil {
		return err
	}
	// What changed before LISTEN took effect is not notified: start empty.
	s.cache.clear()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		s.cache.clear()
	}
}

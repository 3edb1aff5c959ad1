-- The outbox, webhooks and their deliveries (docs/events.md). An event's seq is its position
-- in the feed: SQLite has one writer, so the order of appends is the order of commits and the
-- seq is assigned at insert, the greatest rowid plus one. Not AUTOINCREMENT, whose counter
-- row every commit would write too: the purge keeps the newest event instead, so a committed
-- seq is never given again.

-- +goose Up
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY,
    type            TEXT    NOT NULL,
    cart_num        INTEGER NOT NULL, -- 0: not about a cart
    cart_version    INTEGER NOT NULL,
    order_key       TEXT    NOT NULL,
    occurred_at     INTEGER NOT NULL,
    request_id      TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    data            TEXT    NOT NULL
) STRICT;

-- No index on occurred_at: every commit would pay for it, and the purge walks events in seq
-- order, oldest first, where the old ones are.

CREATE TABLE webhooks (
    id              TEXT    PRIMARY KEY,
    url             TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    previous_secret TEXT    NOT NULL,
    previous_until  INTEGER,
    types           TEXT    NOT NULL, -- JSON array of patterns
    active          INTEGER NOT NULL,
    cursor          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE deliveries (
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    order_key       TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT    NOT NULL,
    lease_until     INTEGER,
    last_status     INTEGER NOT NULL,
    last_error      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (webhook_id, seq)
) STRICT;

-- The work: pending deliveries, and per webhook and key the earliest one.
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_key ON deliveries (webhook_id, order_key, seq) WHERE status = 'pending';
CREATE INDEX deliveries_status ON deliveries (webhook_id, status, seq);
-- What the purge asks of each old event: does a delivery still wait for it?
CREATE INDEX deliveries_waiting ON deliveries (seq) WHERE status = 'pending';

-- When a cart was last reported abandoned (cart.abandoned): once per idle period.
ALTER TABLE carts ADD COLUMN abandoned_at INTEGER;
CREATE INDEX carts_idle ON carts (last_activity) WHERE status = 'active';

-- +goose Down
DROP INDEX carts_idle;
ALTER TABLE carts DROP COLUMN abandoned_at;
DROP TABLE deliveries;
DROP TABLE webhooks;
DROP TABLE events;

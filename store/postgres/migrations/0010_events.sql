-- The outbox, webhooks and their deliveries (docs/events.md). Transactions commit in any
-- order here, so an event is appended without a position (seq NULL) and positioned once
-- committed by PositionEvents, under the lock of event_positions' single row: id is only the
-- order of appends, seq the order of the feed.

-- +goose Up
CREATE TABLE events (
    id              BIGSERIAL   PRIMARY KEY,
    seq             BIGINT      UNIQUE,
    type            TEXT        NOT NULL,
    cart_num        BIGINT      NOT NULL, -- 0: not about a cart
    cart_version    BIGINT      NOT NULL,
    order_key       TEXT        NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    request_id      TEXT        NOT NULL,
    idempotency_key TEXT        NOT NULL,
    data            TEXT        NOT NULL
);

CREATE INDEX events_unpositioned ON events (id) WHERE seq IS NULL;
-- No index on occurred_at: every commit would pay for it, and the purge walks events in seq
-- order, oldest first, where the old ones are.

CREATE TABLE event_positions (
    id   INT    PRIMARY KEY,
    last BIGINT NOT NULL
);
INSERT INTO event_positions (id, last) VALUES (1, 0);

CREATE TABLE webhooks (
    id              TEXT        PRIMARY KEY,
    url             TEXT        NOT NULL,
    secret          TEXT        NOT NULL,
    previous_secret TEXT        NOT NULL,
    previous_until  TIMESTAMPTZ,
    types           TEXT        NOT NULL, -- JSON array of patterns
    active          BOOLEAN     NOT NULL,
    cursor          BIGINT      NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE deliveries (
    webhook_id      TEXT        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    seq             BIGINT      NOT NULL,
    order_key       TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    attempts        INT         NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_owner     TEXT        NOT NULL,
    lease_until     TIMESTAMPTZ,
    last_status     INT         NOT NULL,
    last_error      TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (webhook_id, seq)
);

CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_key ON deliveries (webhook_id, order_key, seq) WHERE status = 'pending';
CREATE INDEX deliveries_status ON deliveries (webhook_id, status, seq);
-- What the purge asks of each old event: does a delivery still wait for it?
CREATE INDEX deliveries_waiting ON deliveries (seq) WHERE status = 'pending';

-- When a cart was last reported abandoned (cart.abandoned): once per idle period.
ALTER TABLE carts ADD COLUMN abandoned_at TIMESTAMPTZ;
CREATE INDEX carts_idle ON carts (last_activity) WHERE status = 'active';

-- +goose Down
DROP INDEX carts_idle;
ALTER TABLE carts DROP COLUMN abandoned_at;
DROP TABLE deliveries;
DROP TABLE webhooks;
DROP TABLE event_positions;
DROP TABLE events;

-- The first schema of cartd's PostgreSQL store: the same tables and columns as the SQLite
-- store's migrations 0001 to 0005, in PostgreSQL's types.
--
-- Conventions, so that every column reads the same way:
--   * times are TIMESTAMPTZ (microseconds, UTC); a NULL time is the zero time (no
--     reservation, not revoked, a stock row never written);
--   * money and counts are BIGINT minor units; flags are BOOLEAN;
--   * JSON columns are TEXT, as the client sent it, NULL when empty;
--   * every stored entity has a num, BIGSERIAL, never reused (a client may still hold
--     "ci_42"); on CockroachDB, set serial_normalization = 'sql_sequence' before migrating for
--     small sequential nums instead of unique_rowid()'s 64-bit ones.
-- Only types and statements CockroachDB and YugabyteDB also accept: no extensions, no
-- advisory locks, no PostgreSQL-only types.

-- +goose Up

-- settings holds one row (id = 1); no row means the defaults. revision grows with every
-- write: a transaction writes back settings it read only if the revision is still the one
-- it read (the row is read by every cart call, so it is never locked).
CREATE TABLE settings (
    id                    INT         PRIMARY KEY CHECK (id = 1),
    default_currency      TEXT        NOT NULL,
    prices_include_tax    BOOLEAN     NOT NULL,
    max_quantity_per_item BIGINT      NOT NULL,
    max_lines_per_cart    BIGINT      NOT NULL,
    shipping              TEXT,       -- JSON: {"USD": {"flat": 500, "free_over": 5000}, ...}
    revision              BIGINT      NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);

-- Products and variants are never deleted, only marked: items keep pointing at them.
CREATE TABLE products (
    num         BIGSERIAL   PRIMARY KEY,
    id          TEXT        NOT NULL UNIQUE,
    name        TEXT        NOT NULL,
    brand       TEXT        NOT NULL,
    category    TEXT        NOT NULL,
    description TEXT        NOT NULL,
    image_url   TEXT        NOT NULL,
    tax_code    TEXT        NOT NULL,
    deleted     BOOLEAN     NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE variants (
    num           BIGSERIAL PRIMARY KEY,
    id            TEXT      NOT NULL UNIQUE,
    product_num   BIGINT    NOT NULL REFERENCES products (num),
    position      INT       NOT NULL, -- index in the product's last PUT
    sku           TEXT      NOT NULL,
    name          TEXT      NOT NULL,
    options       TEXT,               -- JSON: [{"name": "color", "value": "Blue"}, ...]
    prices        TEXT,               -- JSON: {"USD": 8099, ...}
    retail_prices TEXT,               -- JSON, as prices
    tiers         TEXT,               -- JSON: [{"min_quantity": 10, "price": {"USD": 7000}}, ...]
    tax_rate      BIGINT    NOT NULL, -- basis points
    weight_grams  BIGINT    NOT NULL,
    active        BOOLEAN   NOT NULL,
    returnable    BOOLEAN   NOT NULL,
    sale_id       TEXT      NOT NULL DEFAULT '', -- sales.id; no foreign key, a sale may be PUT later
    deleted       BOOLEAN   NOT NULL DEFAULT false
);

-- A SKU names one live variant; deleted variants free their SKU for reuse.
CREATE UNIQUE INDEX variants_live_sku ON variants (sku) WHERE NOT deleted;
-- Every variant of a SKU, deleted ones included: their items may still hold its stock.
CREATE INDEX variants_sku ON variants (sku);
CREATE INDEX variants_product ON variants (product_num, position);
CREATE INDEX variants_sale ON variants (sale_id) WHERE sale_id <> '';

-- A sale's SKUs are the variants whose sale_id names it.
CREATE TABLE sales (
    num        BIGSERIAL   PRIMARY KEY,
    id         TEXT        NOT NULL UNIQUE,
    name       TEXT        NOT NULL,
    starts_at  TIMESTAMPTZ NOT NULL,
    ends_at    TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK (starts_at <= ends_at)
);

-- stock has no CHECK (reserved <= on_hand): lowering on_hand below reserved is accepted and
-- the engine then releases the newest reservations in the same transaction. version grows by
-- one with every write of the row (the stock's ETag).
CREATE TABLE stock (
    sku         TEXT        PRIMARY KEY,
    on_hand     BIGINT      NOT NULL CHECK (on_hand >= 0),
    reserved    BIGINT      NOT NULL CHECK (reserved >= 0),
    backordered BIGINT      NOT NULL CHECK (backordered >= 0),
    version     BIGINT      NOT NULL,
    updated_at  TIMESTAMPTZ
);

CREATE TABLE carts (
    num           BIGSERIAL   PRIMARY KEY,
    customer_id   TEXT        NOT NULL, -- '' for a guest cart
    currency      TEXT        NOT NULL,
    status        TEXT        NOT NULL,
    version       BIGINT      NOT NULL,
    metadata      TEXT,                 -- JSON object as the client sent it
    merged_into   BIGINT,               -- the cart a merged cart's lines went into
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    last_activity TIMESTAMPTZ NOT NULL
);

-- A customer's carts, most recently active last.
CREATE INDEX carts_customer ON carts (customer_id, last_activity);
-- A customer's active carts: "the customer's cart" (DESIGN §9) is the last entry.
CREATE INDEX carts_customer_active ON carts (customer_id, last_activity, num) WHERE status = 'active';

CREATE TABLE cart_items (
    num               BIGSERIAL   PRIMARY KEY,
    cart_num          BIGINT      NOT NULL REFERENCES carts (num) ON DELETE CASCADE,
    variant_num       BIGINT      NOT NULL REFERENCES variants (num),
    quantity          BIGINT      NOT NULL CHECK (quantity >= 0),
    reserved_quantity BIGINT      NOT NULL CHECK (reserved_quantity >= 0 AND reserved_quantity <= quantity),
    backorder         BOOLEAN     NOT NULL,
    added_unit_price  BIGINT      NOT NULL,
    unit_price        BIGINT      NOT NULL,
    notes             TEXT        NOT NULL,
    metadata          TEXT,
    reserved_until    TIMESTAMPTZ,          -- NULL: holds no reservation
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);

-- A cart's lines in num order.
CREATE INDEX cart_items_cart ON cart_items (cart_num, num);
-- The items holding stock of a variant, for releasing reservations when stock drops and for
-- taking back the lapsed ones of a SKU a cart is short of.
CREATE INDEX cart_items_holding ON cart_items (variant_num, reserved_until) WHERE reserved_quantity > 0;
-- The items holding stock, by when their reservation lapses: the sweeper's work. An item
-- whose reservation was released keeps its reserved_until (it shows as expired) but leaves
-- both indexes.
CREATE INDEX cart_items_reserved_until ON cart_items (reserved_until) WHERE reserved_quantity > 0;

CREATE TABLE api_keys (
    num        BIGSERIAL   PRIMARY KEY,
    hash       BYTEA       NOT NULL UNIQUE, -- SHA-256 of the secret
    scopes     TEXT        NOT NULL,        -- JSON: ["carts:read", ...]
    label      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE customer_tokens (
    num         BIGSERIAL   PRIMARY KEY,
    customer_id TEXT        NOT NULL,
    hash        BYTEA       NOT NULL UNIQUE, -- SHA-256 of the secret
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

-- Outcomes of calls made with an Idempotency-Key, replayed to retries for 24 hours.
CREATE TABLE idempotency (
    scope        TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    request_hash BYTEA       NOT NULL,
    status       INT         NOT NULL,
    header       TEXT        NOT NULL,
    body         BYTEA       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_expires ON idempotency (expires_at);

-- Promotions and the coupons applied to carts. A promotion's code is the id the shop chose in
-- PUT /v1/promotions/{code}, kept in upper case. Promotions are never deleted, only withdrawn
-- (deleted), so that a cart whose coupon names one can still show what it was; a PUT revives
-- it. Amounts and minimum subtotals are JSON objects per currency in minor units, the
-- eligibility lists JSON arrays of strings (NULL: no restriction); a NULL starts_at or ends_at
-- leaves that side of the validity window open.
CREATE TABLE promotions (
    num          BIGSERIAL   PRIMARY KEY,
    code         TEXT        NOT NULL UNIQUE,
    name         TEXT        NOT NULL,
    description  TEXT        NOT NULL,
    type         TEXT        NOT NULL,
    method       TEXT        NOT NULL,
    rate         BIGINT      NOT NULL, -- basis points (percent)
    amounts      TEXT,                 -- JSON: {"USD": 500}
    min_subtotal TEXT,                 -- JSON: {"USD": 5000}
    min_quantity BIGINT      NOT NULL,
    skus         TEXT,                 -- JSON: ["TEE-S", ...]
    product_ids  TEXT,
    brands       TEXT,
    sale_ids     TEXT,
    starts_at    TIMESTAMPTZ,
    ends_at      TIMESTAMPTZ,
    active       BOOLEAN     NOT NULL,
    deleted      BOOLEAN     NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
);

-- The automatic promotions every cart's pricing considers.
CREATE INDEX promotions_auto ON promotions (code) WHERE method = 'auto' AND active AND NOT deleted;

-- The codes applied to each cart. It names promotions by code with no foreign key: a
-- promotion's row outlives every coupon (it is only ever withdrawn).
CREATE TABLE cart_coupons (
    cart_num BIGINT      NOT NULL REFERENCES carts (num) ON DELETE CASCADE,
    code     TEXT        NOT NULL,
    added_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (cart_num, code)
);

-- +goose Down
DROP TABLE cart_coupons;
DROP TABLE promotions;
DROP TABLE idempotency;
DROP TABLE customer_tokens;
DROP TABLE api_keys;
DROP TABLE cart_items;
DROP TABLE carts;
DROP TABLE stock;
DROP TABLE sales;
DROP TABLE variants;
DROP TABLE products;
DROP TABLE settings;

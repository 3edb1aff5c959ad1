-- The first schema of cartd's SQLite store.
--
-- Conventions, so that every column reads the same way:
--   * times are INTEGER microseconds since the Unix epoch, UTC: they sort, compare and index as
--     numbers and round-trip a Go time truncated to the microsecond exactly; a NULL time is
--     the zero time (no reservation, not revoked);
--   * money is INTEGER minor units; flags are INTEGER 0/1;
--   * JSON columns are TEXT, NULL when empty;
--   * every stored entity has a num, INTEGER PRIMARY KEY AUTOINCREMENT, so a num is never
--     reused, not even after the newest row is deleted (a client may still hold "ci_42");
--   * tables are STRICT, so a value of the wrong type is an error, not a silent conversion.

-- +goose Up

-- settings holds one row (id = 1); no row means the defaults.
CREATE TABLE settings (
    id                    INTEGER PRIMARY KEY CHECK (id = 1),
    default_currency      TEXT    NOT NULL,
    prices_include_tax    INTEGER NOT NULL,
    max_quantity_per_item INTEGER NOT NULL,
    max_lines_per_cart    INTEGER NOT NULL,
    shipping              TEXT,    -- JSON: {"USD": {"flat": 500, "free_over": 5000}, ...}
    updated_at            INTEGER NOT NULL
) STRICT;

-- Products and variants are never deleted, only marked: items keep pointing at them.
CREATE TABLE products (
    num         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    brand       TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    description TEXT    NOT NULL,
    image_url   TEXT    NOT NULL,
    tax_code    TEXT    NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE variants (
    num           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT    NOT NULL UNIQUE,
    product_num   INTEGER NOT NULL REFERENCES products (num),
    position      INTEGER NOT NULL, -- index in the product's last PUT
    sku           TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    options       TEXT,             -- JSON: [{"name": "color", "value": "Blue"}, ...]
    prices        TEXT,             -- JSON: {"USD": 8099, ...}
    retail_prices TEXT,             -- JSON, as prices
    tiers         TEXT,             -- JSON: [{"min_quantity": 10, "price": {"USD": 7000}}, ...]
    tax_rate      INTEGER NOT NULL, -- basis points
    weight_grams  INTEGER NOT NULL,
    active        INTEGER NOT NULL,
    returnable    INTEGER NOT NULL,
    sale_id       TEXT    NOT NULL DEFAULT '', -- sales.id; no foreign key, a sale may be PUT later
    deleted       INTEGER NOT NULL DEFAULT 0
) STRICT;

-- A SKU names one live variant; deleted variants free their SKU for reuse.
CREATE UNIQUE INDEX variants_live_sku ON variants (sku) WHERE deleted = 0;
-- Every variant of a SKU, deleted ones included: their items may still hold its stock.
CREATE INDEX variants_sku ON variants (sku);
CREATE INDEX variants_product ON variants (product_num, position);
CREATE INDEX variants_sale ON variants (sale_id) WHERE sale_id <> '';

-- A sale's SKUs are the variants whose sale_id names it.
CREATE TABLE sales (
    num        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK (starts_at <= ends_at)
) STRICT;

-- stock has no CHECK (reserved <= on_hand): lowering on_hand below reserved is accepted and
-- the engine then releases the newest reservations in the same transaction.
CREATE TABLE stock (
    sku         TEXT    PRIMARY KEY,
    on_hand     INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved    INTEGER NOT NULL CHECK (reserved >= 0),
    backordered INTEGER NOT NULL CHECK (backordered >= 0),
    updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE carts (
    num           INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id   TEXT    NOT NULL, -- '' for a guest cart
    currency      TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    metadata      TEXT,             -- JSON object as the client sent it
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_activity INTEGER NOT NULL
) STRICT;

-- A customer's most recently active cart.
CREATE INDEX carts_customer ON carts (customer_id, last_activity);

CREATE TABLE cart_items (
    num               INTEGER PRIMARY KEY AUTOINCREMENT,
    cart_num          INTEGER NOT NULL REFERENCES carts (num) ON DELETE CASCADE,
    variant_num       INTEGER NOT NULL REFERENCES variants (num),
    quantity          INTEGER NOT NULL CHECK (quantity >= 0),
    reserved_quantity INTEGER NOT NULL CHECK (reserved_quantity >= 0 AND reserved_quantity <= quantity),
    backorder         INTEGER NOT NULL,
    added_unit_price  INTEGER NOT NULL,
    unit_price        INTEGER NOT NULL,
    notes             TEXT    NOT NULL,
    metadata          TEXT,
    reserved_until    INTEGER,          -- NULL: holds no reservation
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

-- A cart's lines in num order: the index ends in the rowid, so no sort is needed.
CREATE INDEX cart_items_cart ON cart_items (cart_num);
-- The items holding stock of a variant, for releasing reservations when stock drops.
CREATE INDEX cart_items_holding ON cart_items (variant_num) WHERE reserved_quantity > 0;

CREATE TABLE api_keys (
    num        INTEGER PRIMARY KEY AUTOINCREMENT,
    hash       BLOB    NOT NULL UNIQUE, -- SHA-256 of the secret
    scopes     TEXT    NOT NULL,        -- JSON: ["carts:read", ...]
    label      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

CREATE TABLE customer_tokens (
    num         INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT    NOT NULL,
    hash        BLOB    NOT NULL UNIQUE, -- SHA-256 of the secret
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;

-- +goose Down
DROP TABLE customer_tokens;
DROP TABLE api_keys;
DROP TABLE cart_items;
DROP TABLE carts;
DROP TABLE stock;
DROP TABLE sales;
DROP TABLE variants;
DROP TABLE products;
DROP TABLE settings;

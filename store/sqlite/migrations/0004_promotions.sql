-- Promotions and the coupons applied to carts.
--
-- A promotion's code is the id the shop chose in PUT /v1/promotions/{code}, kept in upper case
-- (codes are case-insensitive). Promotions are never deleted, only withdrawn (deleted = 1), so
-- that a cart whose coupon names one can still show what it was; a PUT revives it.
-- Amounts and minimum subtotals are JSON objects per currency in minor units, the eligibility
-- lists JSON arrays of strings (NULL: no restriction); a NULL starts_at or ends_at leaves that
-- side of the validity window open.
--
-- cart_coupons holds the codes applied to each cart. It names promotions by code with no
-- foreign key: a promotion's row outlives every coupon (it is only ever withdrawn).

-- +goose Up
CREATE TABLE promotions (
    num          INTEGER PRIMARY KEY AUTOINCREMENT,
    code         TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    method       TEXT    NOT NULL,
    rate         INTEGER NOT NULL, -- basis points (percent)
    amounts      TEXT,             -- JSON: {"USD": 500}
    min_subtotal TEXT,             -- JSON: {"USD": 5000}
    min_quantity INTEGER NOT NULL,
    skus         TEXT,             -- JSON: ["TEE-S", ...]
    product_ids  TEXT,
    brands       TEXT,
    sale_ids     TEXT,
    starts_at    INTEGER,
    ends_at      INTEGER,
    active       INTEGER NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
) STRICT;

-- The automatic promotions every cart's pricing considers.
CREATE INDEX promotions_auto ON promotions (code) WHERE method = 'auto' AND active = 1 AND deleted = 0;

CREATE TABLE cart_coupons (
    cart_num INTEGER NOT NULL REFERENCES carts (num) ON DELETE CASCADE,
    code     TEXT    NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (cart_num, code)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE cart_coupons;
DROP INDEX promotions_auto;
DROP TABLE promotions;

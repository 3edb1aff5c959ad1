-- Cart merges and versioned stock.
--
-- carts.merged_into is the num of the cart a merged cart's lines went into (status 'merged'),
-- NULL otherwise. It has no REFERENCES clause: SQLite cannot drop a column that takes part in
-- a foreign key, and the engine writes it only with a cart it has just locked.
--
-- stock.version grows by one with every write of the row (reservations included); it is the
-- stock's ETag for If-Match. Rows written before this migration start at 1, as if written once.

-- +goose Up
ALTER TABLE carts ADD COLUMN merged_into INTEGER;
ALTER TABLE stock ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- A customer's active carts, most recently active last: "the customer's cart" (DESIGN §9) is
-- the last entry, found without reading their closed carts.
CREATE INDEX carts_customer_active ON carts (customer_id, last_activity, num) WHERE status = 'active';

-- +goose Down
DROP INDEX carts_customer_active;
ALTER TABLE stock DROP COLUMN version;
ALTER TABLE carts DROP COLUMN merged_into;

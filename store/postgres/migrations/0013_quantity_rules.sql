-- Quantity rules: which quantities of a variant a shop sells (min, max, increment) and how
-- many one customer may hold across their carts (max_per_customer), as JSON
-- ({"min": 2, "max": 10, "increment": 2}). A variant's own rule replaces its product's;
-- NULL is no rule of its own.
--
-- customer_variant_locks holds one row per (customer, variant) whose max_per_customer was
-- ever checked: a transaction counting the customer's units of the variant locks the row
-- first, so that two nodes changing two carts of one customer cannot both count the units
-- the other is adding (no advisory locks: the same SQL runs on CockroachDB and YugabyteDB).

-- +goose Up
ALTER TABLE products ADD COLUMN quantity_rule TEXT;
ALTER TABLE variants ADD COLUMN quantity_rule TEXT;
CREATE TABLE customer_variant_locks (
    customer_id TEXT   NOT NULL,
    variant_num BIGINT NOT NULL,
    PRIMARY KEY (customer_id, variant_num)
);

-- +goose Down
DROP TABLE customer_variant_locks;
ALTER TABLE variants DROP COLUMN quantity_rule;
ALTER TABLE products DROP COLUMN quantity_rule;

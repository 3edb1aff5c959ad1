-- Quantity rules: which quantities of a variant a shop sells (min, max, increment) and how
-- many one customer may hold across their carts (max_per_customer), as JSON
-- ({"min": 2, "max": 10, "increment": 2}). A variant's own rule replaces its product's;
-- NULL is no rule of its own.

-- +goose Up
ALTER TABLE products ADD COLUMN quantity_rule TEXT;
ALTER TABLE variants ADD COLUMN quantity_rule TEXT;

-- +goose Down
ALTER TABLE variants DROP COLUMN quantity_rule;
ALTER TABLE products DROP COLUMN quantity_rule;

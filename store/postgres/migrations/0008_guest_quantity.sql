-- The most units of one item a guest cart (one without a customer) may hold: what keeps
-- anonymous storefront sessions from locking up a flash sale's stock. 0: no cap beyond
-- max_quantity_per_item.

-- +goose Up
ALTER TABLE settings ADD COLUMN max_guest_quantity_per_item BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE settings DROP COLUMN max_guest_quantity_per_item;

-- Reservation expiry.
--
-- A reservation lapses at cart_items.reserved_until; the sweeper finds the items still holding
-- stock past that instant through cart_items_reserved_until, and a cart short of a SKU finds
-- that SKU's lapsed holders through cart_items_holding, which now also orders them by
-- reserved_until. Both are partial on reserved_quantity > 0: an item whose reservation was
-- released keeps its reserved_until (it shows as expired) but leaves the indexes.

-- +goose Up
CREATE INDEX cart_items_reserved_until ON cart_items (reserved_until) WHERE reserved_quantity > 0;

DROP INDEX cart_items_holding;
CREATE INDEX cart_items_holding ON cart_items (variant_num, reserved_until) WHERE reserved_quantity > 0;

-- +goose Down
DROP INDEX cart_items_holding;
CREATE INDEX cart_items_holding ON cart_items (variant_num) WHERE reserved_quantity > 0;

DROP INDEX cart_items_reserved_until;

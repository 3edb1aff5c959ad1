-- The indexes behind the list endpoints (docs/lists.md), so that no filter reads a whole table.
--
-- GET /v1/carts walks carts newest first (the rowid, descending); a customer's or a status's
-- carts come from carts_customer_num and carts_status in that same order, and updated_after
-- reads only the carts changed since through carts_updated. has_items looks each candidate's
-- lines up through cart_items_cart.
-- GET /v1/products?q= finds ids through the products' unique id index, SKUs through
-- variants_sku and names through products_name (lower(name): the match ignores the case of
-- ASCII letters, as SQLite's lower() does).
-- GET /v1/inventory walks the stock's primary key in SKU order; low_stock reads only the rows
-- at or below the threshold through stock_available.
-- GET /v1/inventory/{sku}/reservations goes from the SKU to its variants (variants_sku) and
-- their holding items (cart_items_holding).

-- +goose Up
CREATE INDEX carts_customer_num ON carts (customer_id, num);
CREATE INDEX carts_status ON carts (status, num);
CREATE INDEX carts_updated ON carts (updated_at);
CREATE INDEX products_name ON products (lower(name));
CREATE INDEX stock_available ON stock (on_hand - reserved);

-- +goose Down
DROP INDEX stock_available;
DROP INDEX products_name;
DROP INDEX carts_updated;
DROP INDEX carts_status;
DROP INDEX carts_customer_num;

-- The indexes behind the list endpoints (docs/lists.md), so that no filter reads a whole table.
--
-- Lists that page by a text key (inventory by SKU) or match a prefix (products by id, name or
-- SKU; inventory by SKU) compare bytewise (COLLATE "C"), as SQLite does, whatever the
-- database's collation: so both stores order and match alike, and a prefix is one range of
-- an index built in that collation.
--
-- GET /v1/carts walks carts newest first (the primary key, descending); a customer's or a
-- status's carts come from carts_customer_num and carts_status in that same order, and
-- updated_after reads only the carts changed since through carts_updated. has_items looks
-- each candidate's lines up through cart_items_cart.
-- GET /v1/products?q= uses products_id_c, variants_sku_c and products_name_c.
-- GET /v1/inventory walks stock_sku_c; low_stock reads only the rows at or below the
-- threshold through stock_available.
-- GET /v1/inventory/{sku}/reservations goes from the SKU to its variants (variants_sku) and
-- their holding items (cart_items_holding).

-- +goose Up
CREATE INDEX carts_customer_num ON carts (customer_id, num);
CREATE INDEX carts_status ON carts (status, num);
CREATE INDEX carts_updated ON carts (updated_at);
CREATE INDEX products_id_c ON products ((id COLLATE "C"));
CREATE INDEX products_name_c ON products ((lower(name COLLATE "C")));
CREATE INDEX variants_sku_c ON variants ((sku COLLATE "C"));
CREATE INDEX stock_sku_c ON stock ((sku COLLATE "C"));
CREATE INDEX stock_available ON stock ((on_hand - reserved));

-- +goose Down
DROP INDEX stock_available;
DROP INDEX stock_sku_c;
DROP INDEX variants_sku_c;
DROP INDEX products_name_c;
DROP INDEX products_id_c;
DROP INDEX carts_updated;
DROP INDEX carts_status;
DROP INDEX carts_customer_num;

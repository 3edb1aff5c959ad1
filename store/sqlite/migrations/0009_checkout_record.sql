-- checkout_records holds each completed cart as it was priced at checkout: what the buyer
-- agreed to pay. Reads of a completed cart serve it, whatever happens to the catalog, stock,
-- settings or promotions afterwards. The record is the engine's encoding (JSON), opaque here.

-- +goose Up
CREATE TABLE checkout_records (
    cart_num   INTEGER PRIMARY KEY REFERENCES carts (num) ON DELETE CASCADE,
    record     BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE checkout_records;

-- Stock buckets (docs/stock.md, "Hot SKUs: stock buckets"). A SKU's stock may be split into
-- several rows, numbered by bucket from 0, so that carts reserving one popular SKU lock
-- different rows instead of queueing on one. The SKU's figures are the sums over its rows:
-- on_hand, reserved, backordered (kept on bucket 0), version (a write bumps the version of
-- the rows it writes, so the sum grows with every write of the SKU and never comes back) and
-- updated_at (the latest). A SKU that was never split has one row, bucket 0, as before. There
-- is no CHECK (reserved <= on_hand) per row either: the sums keep ARCHITECTURE.md
-- §Invariants 1, and a draw is conditional on its row's own stock (store/postgres/buckets.go).

-- +goose Up
ALTER TABLE stock ADD COLUMN bucket INT NOT NULL DEFAULT 0 CHECK (bucket >= 0);
ALTER TABLE stock DROP CONSTRAINT stock_pkey;
ALTER TABLE stock ADD PRIMARY KEY (sku, bucket);

-- +goose Down
UPDATE stock SET on_hand = t.on_hand, reserved = t.reserved, backordered = t.backordered,
                 version = t.version, updated_at = t.updated_at
FROM (SELECT sku, SUM(on_hand) AS on_hand, SUM(reserved) AS reserved,
             SUM(backordered) AS backordered, SUM(version) AS version, MAX(updated_at) AS updated_at
      FROM stock GROUP BY sku) t
WHERE stock.sku = t.sku AND stock.bucket = 0;
DELETE FROM stock WHERE bucket > 0;
ALTER TABLE stock DROP CONSTRAINT stock_pkey;
ALTER TABLE stock ADD PRIMARY KEY (sku);
ALTER TABLE stock DROP COLUMN bucket;

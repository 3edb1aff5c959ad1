-- +goose Up
-- The sweeper asks, every second, which reservations are held on variants that can no longer
-- be sold, one reason being a variant without a price in its cart's currency. Checking that
-- line by line read every line holding stock and its cart, so a pass cost as much as the
-- number of carts holding stock. The currencies carts are in are found instead by a few probes
-- of this index (qCartCurrencies), and only the variants missing a price in one of them have
-- their lines read.
CREATE INDEX carts_currency ON carts (currency);

-- The carts idle and not yet reported abandoned (qIdleCarts), in order of idleness: a report
-- (abandoned_at) takes a cart out of it until its next activity, so a pass reads the carts
-- due and not every active one. It replaces carts_idle, which every active cart stayed in.
CREATE INDEX carts_unreported ON carts (last_activity)
	WHERE status = 'active' AND (abandoned_at IS NULL OR abandoned_at < last_activity);
DROP INDEX carts_idle;

-- +goose Down
CREATE INDEX carts_idle ON carts (last_activity) WHERE status = 'active';
DROP INDEX carts_unreported;
DROP INDEX carts_currency;

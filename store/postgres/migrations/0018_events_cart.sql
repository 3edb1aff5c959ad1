-- A cart's events (GET /v1/events?cart_id=, docs/events.md): the feed of one cart is one range
-- of this index, in seq order; events not yet positioned (seq NULL) sort after every position
-- and are never read through it (seq > after). Partial: the events about no cart
-- (stock.changed, cart_num 0), about half of what a quantity change appends, neither pay for
-- it nor fill it; the query states cart_num <> 0 so that the planner may use it whatever the
-- parameter.

-- +goose Up
CREATE INDEX events_cart ON events (cart_num, seq) WHERE cart_num <> 0;

-- +goose Down
DROP INDEX events_cart;

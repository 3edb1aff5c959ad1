-- The client address a storefront session began from (an IPv4 address, or an IPv6 /64), so
-- that the units held by every anonymous cart of one address can be capped per SKU: a script
-- making up sessions from one address gets one address's share, however many it makes.
-- '' for sessions stored before (they are not counted against any address).

-- +goose Up
ALTER TABLE sessions ADD COLUMN client_addr TEXT NOT NULL DEFAULT '';

CREATE INDEX sessions_client_addr ON sessions (client_addr, cart_num) WHERE client_addr <> '';

-- +goose Down
DROP INDEX sessions_client_addr;
ALTER TABLE sessions DROP COLUMN client_addr;

-- A lease on each webhook's stream, the events after its cursor (docs/events.md, "Several
-- nodes"): the node holding it sends those events and records them, one write per batch,
-- without a pending row per event first.

-- +goose Up
ALTER TABLE webhooks ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN lease_until INTEGER;

-- +goose Down
ALTER TABLE webhooks DROP COLUMN lease_until;
ALTER TABLE webhooks DROP COLUMN lease_owner;

-- cache_version: one row whose version moves on in every transaction that changes the
-- settings or a promotion. Each node caches those rows labelled with the version it read them
-- at, and every transaction reads the version in its first round trip: a cache whose label
-- differs is read again (store/postgres/cache.go). Nodes are also told of a change by
-- NOTIFY, but a missed notification costs only that read.

-- +goose Up
CREATE TABLE cache_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);
INSERT INTO cache_version (id, version) VALUES (1, 1);

-- +goose Down
DROP TABLE cache_version;

-- Storefront sessions: the secret in a shopper's sessionid cookie, stored as its SHA-256 like
-- customer tokens, naming one guest cart until it expires. Expired sessions are purged in
-- batches through sessions_expires; their carts stay.

-- +goose Up
CREATE TABLE sessions (
    num        BIGSERIAL   PRIMARY KEY,
    hash       BYTEA       NOT NULL UNIQUE, -- SHA-256 of the secret
    cart_num   BIGINT      NOT NULL REFERENCES carts (num) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX sessions_expires ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;

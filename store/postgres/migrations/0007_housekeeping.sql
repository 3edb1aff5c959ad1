-- Housekeeping: the lookups behind purging abandoned guest carts and old customer tokens.
--
-- Deleting a cart cascades to its sessions (sessions_cart, which the foreign key would
-- otherwise check by scanning every session) and takes along the carts merged into it
-- (carts_merged_into). Tokens are purged once expired or revoked for a while.

-- +goose Up
CREATE INDEX sessions_cart ON sessions (cart_num);
CREATE INDEX carts_merged_into ON carts (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX customer_tokens_expires ON customer_tokens (expires_at);
CREATE INDEX customer_tokens_revoked ON customer_tokens (revoked_at) WHERE revoked_at IS NOT NULL;

-- +goose Down
DROP INDEX customer_tokens_revoked;
DROP INDEX customer_tokens_expires;
DROP INDEX carts_merged_into;
DROP INDEX sessions_cart;

-- Measured quantities: a variant sold by the kilogram or the metre counts its quantities in
-- 10^-quantity_scale of its unit (0 to 6 digits; 0, whole units, for every variant so far).
-- Every quantity of such a variant (its lines, its SKU's stock, its tiers and rule) is stored
-- as an integer of that scale. unit is a label such as kg, m or l; '' for pieces.

-- +goose Up
ALTER TABLE variants ADD COLUMN quantity_scale SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE variants ADD COLUMN unit TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE variants DROP COLUMN unit;
ALTER TABLE variants DROP COLUMN quantity_scale;

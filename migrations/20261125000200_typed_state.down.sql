ALTER TABLE inventory_movements RENAME COLUMN reason TO kind;
ALTER TABLE inventory_movements ADD COLUMN reason text;
UPDATE inventory_movements SET reason = CASE kind
    WHEN 'initial_stock' THEN 'initial stock'
    WHEN 'staff_set' THEN 'set by staff'
    WHEN 'import' THEN 'csv import'
    WHEN 'order_placed' THEN 'order placed'
    WHEN 'order_cancelled' THEN 'order cancelled'
    ELSE note
END;
ALTER TABLE inventory_movements ALTER COLUMN reason SET NOT NULL;
ALTER TABLE inventory_movements DROP COLUMN kind, DROP COLUMN note;
DROP TYPE stock_movement_reason;

ALTER TABLE order_history ALTER COLUMN by_role TYPE text USING by_role::text;
DROP TYPE history_role;

ALTER TABLE order_history ALTER COLUMN status TYPE text USING status::text;
DROP INDEX orders_status_idx;
ALTER TABLE orders ALTER COLUMN status TYPE text USING status::text;
CREATE INDEX orders_status_idx ON orders (status, created_at DESC);
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded'));
DROP TYPE order_status;

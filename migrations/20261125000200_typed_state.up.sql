-- Typed state: order statuses, history roles and stock-movement reasons become PostgreSQL
-- enums, mapped to Rust enums by sqlx (swift-core/src/orders/types.rs, inventory/mod.rs).
-- A value outside the set can no longer be stored, nor silently read as another one.

CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded');
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
DROP INDEX orders_status_idx;
ALTER TABLE orders ALTER COLUMN status TYPE order_status USING status::order_status;
CREATE INDEX orders_status_idx ON orders (status, created_at DESC);
ALTER TABLE order_history ALTER COLUMN status TYPE order_status USING status::order_status;

CREATE TYPE history_role AS ENUM ('customer', 'staff', 'system');
ALTER TABLE order_history ALTER COLUMN by_role TYPE history_role USING by_role::history_role;

-- Why stock moved. Staff's own words for an adjustment stay in `note`.
CREATE TYPE stock_movement_reason AS ENUM (
    'initial_stock', 'staff_adjustment', 'staff_set', 'import', 'order_placed', 'order_cancelled'
);
ALTER TABLE inventory_movements
    ADD COLUMN kind stock_movement_reason,
    ADD COLUMN note text NOT NULL DEFAULT '';
UPDATE inventory_movements SET
    kind = CASE reason
        WHEN 'initial stock' THEN 'initial_stock'
        WHEN 'set by staff' THEN 'staff_set'
        WHEN 'csv import' THEN 'import'
        WHEN 'order placed' THEN 'order_placed'
        WHEN 'order cancelled' THEN 'order_cancelled'
        ELSE 'staff_adjustment'
    END::stock_movement_reason,
    note = CASE WHEN reason IN ('initial stock', 'set by staff', 'csv import', 'order placed', 'order cancelled')
        THEN '' ELSE reason END;
ALTER TABLE inventory_movements ALTER COLUMN kind SET NOT NULL;
ALTER TABLE inventory_movements DROP COLUMN reason;
ALTER TABLE inventory_movements RENAME COLUMN kind TO reason;

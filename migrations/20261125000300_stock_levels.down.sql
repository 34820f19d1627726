ALTER TABLE products ADD COLUMN stock integer NOT NULL DEFAULT 0 CHECK (stock >= 0);
UPDATE products p SET stock = s.on_hand FROM stock_levels s WHERE s.product_id = p.id;
ALTER TABLE inventory_movements
    DROP CONSTRAINT inventory_movements_product_id_fkey,
    ADD CONSTRAINT inventory_movements_product_id_fkey
        FOREIGN KEY (product_id) REFERENCES products (id);
DROP TABLE stock_levels;

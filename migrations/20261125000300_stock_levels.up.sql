-- Stock moves to its own narrow table. Every buyer of a hot product updates its stock row;
-- while that row was the wide products row (description, images, search vector), each sale
-- wrote a new copy of all of it, and the reads of the product that every checkout, cart and
-- listing makes - and the key-share locks of the foreign keys pointing at it - queued
-- behind those versions and their multixacts. Now orders never write a products row.
CREATE TABLE stock_levels (
    product_id uuid PRIMARY KEY REFERENCES products (id),
    on_hand    integer NOT NULL DEFAULT 0 CHECK (on_hand >= 0)
) WITH (fillfactor = 50); -- room on each page for the next versions (HOT updates)
INSERT INTO stock_levels (product_id, on_hand) SELECT id, stock FROM products;
ALTER TABLE products DROP COLUMN stock;

ALTER TABLE inventory_movements
    DROP CONSTRAINT inventory_movements_product_id_fkey,
    ADD CONSTRAINT inventory_movements_product_id_fkey
        FOREIGN KEY (product_id) REFERENCES stock_levels (product_id);

-- Listings show stock: their caches hear of its changes as of the products' own.
CREATE TRIGGER stock_levels_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stock_levels
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();

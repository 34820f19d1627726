-- Products get options (Size: S/M/L) and variants, each with its own SKU, option values,
-- price, stock and pictures. A simple product has one variant and no options.
--
-- Every existing product becomes one variant whose id is the product's own id, so the rows
-- that pointed at the product for stock (stock_levels, the ledger, cart lines) keep their
-- keys and only change what they mean: a variant.

CREATE TABLE product_options (
    product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position   smallint NOT NULL CHECK (position BETWEEN 1 AND 3),
    name       text NOT NULL,
    -- The values a variant may take, in display order.
    choices    text[] NOT NULL CHECK (cardinality(choices) BETWEEN 1 AND 100),
    PRIMARY KEY (product_id, position),
    CONSTRAINT product_options_name_key UNIQUE (product_id, name)
);

CREATE TABLE product_variants (
    id               uuid PRIMARY KEY,
    product_id       uuid NOT NULL REFERENCES products (id),
    sku              text NOT NULL,
    -- One value per option of the product, in the options' order.
    option_values    text[] NOT NULL DEFAULT '{}',
    price            numeric(12, 2) NOT NULL CHECK (price >= 0),
    compare_at_price numeric(12, 2),
    images           jsonb NOT NULL DEFAULT '[]',
    is_active        boolean NOT NULL DEFAULT true,
    position         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT product_variants_compare_at_check CHECK (compare_at_price > price),
    CONSTRAINT product_variants_sku_key UNIQUE (sku),
    CONSTRAINT product_variants_options_key UNIQUE (product_id, option_values)
);
CREATE INDEX product_variants_sku_lower_idx ON product_variants (lower(sku));

INSERT INTO product_variants (id, product_id, sku, price, created_at, updated_at)
SELECT id, id, sku, price, created_at, updated_at FROM products;

-- What listings filter, order and search by, summed up from the active variants by the
-- catalog repository whenever variants change (staff writes only: orders never touch it).
ALTER TABLE products
    ADD COLUMN price_min numeric(12, 2),
    ADD COLUMN price_max numeric(12, 2),
    ADD COLUMN variant_skus text NOT NULL DEFAULT '',
    ADD COLUMN option_terms text NOT NULL DEFAULT '';
UPDATE products SET price_min = price, price_max = price, variant_skus = sku;

DROP INDEX products_search_idx;
ALTER TABLE products DROP COLUMN search;
-- Names, SKUs and option values weigh most, description least. SKUs go through 'simple'
-- (codes stay intact), option values through 'english' (so "large" finds "Large").
ALTER TABLE products ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', variant_skus), 'A')
    || setweight(to_tsvector('english', name), 'A')
    || setweight(to_tsvector('english', option_terms), 'B')
    || setweight(to_tsvector('english', description), 'C')
) STORED;
CREATE INDEX products_search_idx ON products USING gin (search) WHERE is_active;

DROP INDEX products_price_idx;
DROP INDEX products_category_price_idx;
ALTER TABLE products DROP COLUMN sku, DROP COLUMN price;
CREATE INDEX products_price_idx ON products (price_min, id) WHERE is_active;
CREATE INDEX products_category_price_idx ON products (category_id, price_min, id) WHERE is_active;

-- Stock, its ledger and cart lines are per variant.
ALTER TABLE stock_levels RENAME COLUMN product_id TO variant_id;
ALTER TABLE stock_levels
    DROP CONSTRAINT stock_levels_product_id_fkey,
    ADD CONSTRAINT stock_levels_variant_id_fkey FOREIGN KEY (variant_id) REFERENCES product_variants (id);

ALTER TABLE inventory_movements RENAME COLUMN product_id TO variant_id;
ALTER TABLE inventory_movements
    RENAME CONSTRAINT inventory_movements_product_id_fkey TO inventory_movements_variant_id_fkey;
ALTER INDEX inventory_movements_product_idx RENAME TO inventory_movements_variant_idx;

ALTER TABLE cart_items RENAME COLUMN product_id TO variant_id;
ALTER TABLE cart_items
    DROP CONSTRAINT cart_items_product_id_fkey,
    ADD CONSTRAINT cart_items_variant_id_fkey FOREIGN KEY (variant_id) REFERENCES product_variants (id);
ALTER TABLE cart_items RENAME CONSTRAINT cart_items_product_key TO cart_items_variant_key;

-- Order lines name the variant bought and snapshot its option values
-- ([{"name": "Size", "value": "M"}]) beside the name, SKU and price they already kept.
ALTER TABLE order_items
    ADD COLUMN variant_id uuid REFERENCES product_variants (id),
    ADD COLUMN options jsonb NOT NULL DEFAULT '[]';
UPDATE order_items SET variant_id = product_id;
ALTER TABLE order_items ALTER COLUMN variant_id SET NOT NULL;

CREATE TRIGGER product_variants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON product_variants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();
CREATE TRIGGER product_options_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON product_options
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();

-- Catalog changes that only move prices say how each price moved ("moves": [["12.50",
-- "12.51"], ...], before and after), so that a listing not ordered by price drops its
-- cached answers only when a price crosses the bounds of its price range: a price that
-- moves within a range changes neither which products the range holds nor how many.
-- A change that adds, removes, activates or deactivates a variant, or moves one to another
-- product, sends no moves (any price may then matter, as before).

DROP FUNCTION notify_catalog_products(uuid[], numeric[], boolean, boolean, boolean);
CREATE FUNCTION notify_catalog_products(ids uuid[], prices numeric[], price boolean, stock boolean, text boolean,
                                        moved_from numeric[] DEFAULT NULL, moved_to numeric[] DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(ids) > 100 THEN
        PERFORM pg_notify('catalog_changed', '');
    ELSIF cardinality(ids) > 0 THEN
        PERFORM pg_notify('catalog_changed', json_build_object(
            'products', ids,
            'categories', ARRAY(SELECT DISTINCT category_id FROM products WHERE id = ANY (ids)),
            'prices', ARRAY(SELECT DISTINCT p::text FROM unnest(prices) p WHERE p IS NOT NULL),
            'price', coalesce(price, false), 'stock', coalesce(stock, false),
            'text', coalesce(text, false),
            'moves', CASE WHEN moved_from IS NOT NULL THEN
                coalesce((SELECT json_agg(DISTINCT jsonb_build_array(f::text, t::text))
                            FROM unnest(moved_from, moved_to) AS m(f, t)
                           WHERE f IS DISTINCT FROM t AND f IS NOT NULL AND t IS NOT NULL), '[]') END)::text);
    END IF;
END $$;

-- A product's lowest and highest prices, as its summary moves them.
CREATE OR REPLACE FUNCTION notify_products_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
    prices numeric[];
    price boolean;
    text boolean;
    membership boolean;
    moved_from numeric[];
    moved_to numeric[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        membership := EXISTS (SELECT 1 FROM new_rows WHERE is_active AND price_min IS NOT NULL);
    ELSIF TG_OP = 'DELETE' THEN
        membership := EXISTS (SELECT 1 FROM old_rows WHERE is_active AND price_min IS NOT NULL);
    ELSE
        SELECT array_agg(n.id),
               array_agg(o.price_min) || array_agg(n.price_min) || array_agg(o.price_max) || array_agg(n.price_max),
               bool_or(o.price_min IS DISTINCT FROM n.price_min OR o.price_max IS DISTINCT FROM n.price_max),
               bool_or(o.search IS DISTINCT FROM n.search OR o.name IS DISTINCT FROM n.name),
               bool_or((o.is_active AND o.price_min IS NOT NULL) IS DISTINCT FROM (n.is_active AND n.price_min IS NOT NULL)
                       OR o.category_id IS DISTINCT FROM n.category_id),
               array_agg(o.price_min) || array_agg(o.price_max),
               array_agg(n.price_min) || array_agg(n.price_max)
          INTO ids, prices, price, text, membership, moved_from, moved_to
          FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE (o.is_active AND o.price_min IS NOT NULL) OR (n.is_active AND n.price_min IS NOT NULL);
    END IF;
    IF membership THEN
        PERFORM pg_notify('catalog_changed', '');
    ELSE
        PERFORM notify_catalog_products(ids, prices, price, false, text, moved_from, moved_to);
    END IF;
    RETURN NULL;
END $$;

-- A variant's price moves, when nothing else about which variants are sold changed.
CREATE OR REPLACE FUNCTION notify_variants_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
    prices numeric[];
    price boolean;
    stock boolean;
    text boolean;
    only_prices boolean;
    moved_from numeric[];
    moved_to numeric[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT product_id), array_agg(DISTINCT new_rows.price), true, true, true
          INTO ids, prices, price, stock, text FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT product_id), array_agg(DISTINCT old_rows.price), true, true, true
          INTO ids, prices, price, stock, text FROM old_rows;
    ELSE
        SELECT array_agg(DISTINCT n.product_id) || array_agg(DISTINCT o.product_id),
               array_agg(o.price) || array_agg(n.price),
               bool_or(o.price IS DISTINCT FROM n.price OR o.is_active IS DISTINCT FROM n.is_active
                       OR o.product_id IS DISTINCT FROM n.product_id),
               bool_or(o.is_active IS DISTINCT FROM n.is_active OR o.in_stock IS DISTINCT FROM n.in_stock
                       OR o.product_id IS DISTINCT FROM n.product_id),
               bool_or(o.sku IS DISTINCT FROM n.sku OR o.option_values IS DISTINCT FROM n.option_values
                       OR o.is_active IS DISTINCT FROM n.is_active OR o.product_id IS DISTINCT FROM n.product_id),
               bool_and(o.is_active IS NOT DISTINCT FROM n.is_active AND o.product_id IS NOT DISTINCT FROM n.product_id),
               array_agg(o.price), array_agg(n.price)
          INTO ids, prices, price, stock, text, only_prices, moved_from, moved_to
          FROM new_rows n JOIN old_rows o ON o.id = n.id;
        IF NOT only_prices THEN
            moved_from := NULL;
            moved_to := NULL;
        END IF;
    END IF;
    PERFORM notify_catalog_products(ARRAY(SELECT DISTINCT unnest(ids)), prices, price, stock, text, moved_from, moved_to);
    RETURN NULL;
END $$;

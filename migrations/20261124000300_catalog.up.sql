-- Catalog: a category tree, products with full-text search, and the inventory ledger.

CREATE TABLE categories (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    parent_id   uuid REFERENCES categories (id),
    position    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT categories_slug_key UNIQUE (slug),
    CHECK (parent_id IS DISTINCT FROM id)
);
CREATE INDEX categories_parent_idx ON categories (parent_id);

CREATE TABLE products (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL,
    sku         text NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    price       numeric(12, 2) NOT NULL CHECK (price >= 0),
    stock       integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
    category_id uuid REFERENCES categories (id),
    images      jsonb NOT NULL DEFAULT '[]',
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- Name and sku weigh most, description least. 'simple' keeps skus and codes intact.
    search      tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', sku), 'A')
        || setweight(to_tsvector('english', name), 'A')
        || setweight(to_tsvector('english', description), 'C')
    ) STORED,
    CONSTRAINT products_slug_key UNIQUE (slug),
    CONSTRAINT products_sku_key UNIQUE (sku)
);
-- The storefront only lists active products: every listing index is partial.
CREATE INDEX products_newest_idx ON products (created_at DESC, id DESC) WHERE is_active;
CREATE INDEX products_price_idx ON products (price, id) WHERE is_active;
CREATE INDEX products_name_idx ON products (name, id) WHERE is_active;
CREATE INDEX products_category_price_idx ON products (category_id, price, id) WHERE is_active;
CREATE INDEX products_category_newest_idx ON products (category_id, created_at DESC, id DESC) WHERE is_active;
CREATE INDEX products_search_idx ON products USING gin (search) WHERE is_active;
CREATE INDEX products_sku_lower_idx ON products (lower(sku));

-- Every stock change, from staff adjustments and (later) orders: the inventory ledger.
CREATE TABLE inventory_movements (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  uuid NOT NULL REFERENCES products (id),
    delta       integer NOT NULL CHECK (delta <> 0),
    stock_after integer NOT NULL CHECK (stock_after >= 0),
    reason      text NOT NULL,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    order_id    uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_movements_product_idx ON inventory_movements (product_id, created_at);

-- Catalog changes are announced (at commit) so every server instance drops its cached
-- listings; see swift-core/src/catalog/cache.rs.
CREATE FUNCTION notify_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('catalog_changed', '');
    RETURN NULL;
END $$;
CREATE TRIGGER products_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();
CREATE TRIGGER categories_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();

-- Shipping zones and methods, tax rates and discount codes, and what carts and orders keep
-- of them (#16).

-- A variant's weight, for rates by weight band; none counts as 0.
ALTER TABLE product_variants
    ADD COLUMN weight_grams integer CHECK (weight_grams BETWEEN 0 AND 1000000000);

CREATE TABLE shipping_zones (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    -- ISO 3166-1 alpha-2 codes.
    countries  text[] NOT NULL CHECK (cardinality(countries) > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipping_zones_countries_idx ON shipping_zones USING gin (countries);

CREATE TYPE shipping_rate_kind AS ENUM ('flat', 'free_over', 'by_weight');

CREATE TABLE shipping_methods (
    id         uuid PRIMARY KEY,
    zone_id    uuid NOT NULL REFERENCES shipping_zones (id) ON DELETE CASCADE,
    name       text NOT NULL,
    kind       shipping_rate_kind NOT NULL,
    -- flat and free_over: the price; free_over: free from this discounted subtotal on.
    price      numeric(12, 2) CHECK (price >= 0),
    free_over  numeric(12, 2) CHECK (free_over >= 0),
    -- by_weight: [{"up_to_grams": 1000, "price": "4.00"}, ...]
    bands      jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shipping_methods_rate_check CHECK (
        (kind = 'flat' AND price IS NOT NULL AND free_over IS NULL AND bands IS NULL)
        OR (kind = 'free_over' AND price IS NOT NULL AND free_over IS NOT NULL AND bands IS NULL)
        OR (kind = 'by_weight' AND price IS NULL AND free_over IS NULL AND jsonb_typeof(bands) = 'array'))
);
CREATE INDEX shipping_methods_zone_idx ON shipping_methods (zone_id, created_at);

CREATE TABLE tax_rates (
    id         uuid PRIMARY KEY,
    country    text NOT NULL,
    -- '' for the whole country; a region's own rate wins over its country's.
    region     text NOT NULL DEFAULT '',
    name       text NOT NULL,
    percent    numeric(6, 3) NOT NULL CHECK (percent BETWEEN 0 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tax_rates_place_key UNIQUE (country, region)
);

CREATE TYPE discount_kind AS ENUM ('percent', 'fixed');

CREATE TABLE discount_codes (
    id                 uuid PRIMARY KEY,
    -- Upper case: codes are typed by people, and compared without regard to case.
    code               text NOT NULL CONSTRAINT discount_codes_code_key UNIQUE,
    kind               discount_kind NOT NULL,
    value              numeric(12, 2) NOT NULL CHECK (value > 0),
    min_subtotal       numeric(12, 2) CHECK (min_subtotal >= 0),
    starts_at          timestamptz,
    ends_at            timestamptz,
    usage_limit        integer CHECK (usage_limit > 0),
    per_customer_limit integer CHECK (per_customer_limit > 0),
    -- Redemptions so far, counted in the checkout transaction under this row's lock.
    times_used         integer NOT NULL DEFAULT 0,
    is_active          boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT discount_codes_percent_check CHECK (kind <> 'percent' OR value <= 100),
    CONSTRAINT discount_codes_window_check CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
);

CREATE TABLE discount_redemptions (
    order_id   uuid PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    code_id    uuid NOT NULL REFERENCES discount_codes (id) ON DELETE CASCADE,
    -- 'user:<id>' or 'email:<address>': whom a per-customer limit counts.
    customer   text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX discount_redemptions_customer_idx ON discount_redemptions (code_id, customer);

-- The cart's choices: where it ships (for methods and tax before checkout), how, and the code.
ALTER TABLE carts
    ADD COLUMN ship_to_country text,
    ADD COLUMN ship_to_region text,
    ADD COLUMN shipping_method_id uuid REFERENCES shipping_methods (id) ON DELETE SET NULL,
    ADD COLUMN discount_code_id uuid REFERENCES discount_codes (id) ON DELETE SET NULL;

-- What an order keeps: the method's name, the code, and its tax lines
-- ([{"name": "VAT", "percent": "20", "amount": "2.00"}]).
ALTER TABLE orders
    ADD COLUMN shipping_method text,
    ADD COLUMN discount_code text,
    ADD COLUMN tax_lines jsonb NOT NULL DEFAULT '[]';

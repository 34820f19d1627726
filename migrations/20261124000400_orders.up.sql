-- Carts, orders with price snapshots and history, and idempotent checkout.

CREATE TABLE carts (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cart_items (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES carts (user_id) ON DELETE CASCADE,
    product_id uuid NOT NULL REFERENCES products (id),
    quantity   integer NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cart_items_product_key UNIQUE (user_id, product_id)
);

-- Human-friendly order numbers: SW-100001, SW-100002, ...
CREATE SEQUENCE order_number_seq START 100001;

CREATE TABLE orders (
    id               uuid PRIMARY KEY,
    number           text NOT NULL UNIQUE,
    -- NULL once the customer deleted their account (the order itself is kept).
    user_id          uuid REFERENCES users (id) ON DELETE SET NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),
    subtotal         numeric(12, 2) NOT NULL CHECK (subtotal >= 0),
    total            numeric(12, 2) NOT NULL CHECK (total >= 0),
    currency         text NOT NULL,
    shipping_address jsonb NOT NULL,
    notes            text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC);
CREATE INDEX orders_status_idx ON orders (status, created_at DESC);
CREATE INDEX orders_created_idx ON orders (created_at DESC);

-- What was bought, at the name and price of the moment of purchase.
CREATE TABLE order_items (
    order_id   uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line       integer NOT NULL,
    product_id uuid NOT NULL REFERENCES products (id),
    sku        text NOT NULL,
    name       text NOT NULL,
    unit_price numeric(12, 2) NOT NULL,
    quantity   integer NOT NULL CHECK (quantity > 0),
    line_total numeric(12, 2) NOT NULL,
    PRIMARY KEY (order_id, line)
);

CREATE TABLE order_history (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    status   text NOT NULL,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- 'customer', 'staff' or 'system'; the person, while their account exists.
    by_role  text NOT NULL,
    actor_id uuid REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX order_history_order_idx ON order_history (order_id, id);

-- Checkout replays: the first successful answer per (user, Idempotency-Key), for 24 hours.
CREATE TABLE idempotency_keys (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status       integer,
    body         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

ALTER TABLE inventory_movements
    ADD CONSTRAINT inventory_movements_order_fk FOREIGN KEY (order_id) REFERENCES orders (id);

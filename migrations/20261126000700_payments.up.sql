-- Payments through a provider (Stripe, #17). An order is created unpaid; the provider's
-- signed webhooks mark it paid; refunds go through the provider and are recorded here first,
-- so a crash between our commit and the provider's answer loses nothing (the payments worker
-- sends a refund still pending, with the same idempotency key).

CREATE TYPE payment_status AS ENUM ('unpaid', 'paid', 'partially_refunded', 'refunded');
ALTER TABLE orders
    ADD COLUMN payment_status payment_status NOT NULL DEFAULT 'unpaid',
    ADD COLUMN amount_refunded numeric(12, 2) NOT NULL DEFAULT 0,
    ADD CONSTRAINT orders_amount_refunded_check CHECK (amount_refunded >= 0 AND amount_refunded <= total);
-- Orders placed before payments existed were paid (or refunded) by staff, outside the shop.
UPDATE orders SET payment_status = 'paid' WHERE status IN ('paid', 'shipped', 'delivered');
UPDATE orders SET payment_status = 'refunded', amount_refunded = total WHERE status = 'refunded';

-- The provider's payment (a Stripe PaymentIntent) of an order: one per order.
CREATE TABLE payments (
    order_id     uuid PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    provider     text NOT NULL,
    intent_id    text NOT NULL UNIQUE,
    -- In the currency's minor units, as the provider counts.
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TYPE refund_status AS ENUM ('pending', 'succeeded', 'failed');
CREATE TYPE refund_reason AS ENUM ('requested_by_staff', 'order_cancelled', 'paid_after_cancellation');
CREATE TABLE refunds (
    id                 uuid PRIMARY KEY,
    order_id           uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    amount             numeric(12, 2) NOT NULL CHECK (amount > 0),
    reason             refund_reason NOT NULL,
    status             refund_status NOT NULL DEFAULT 'pending',
    provider_refund_id text UNIQUE,
    -- The staff member who asked; NULL when the server refunded by itself.
    requested_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_order_idx ON refunds (order_id, created_at);
CREATE INDEX refunds_pending_idx ON refunds (created_at) WHERE status = 'pending';

-- Webhook events already handled, by the provider's event id: a redelivery changes nothing.
CREATE TABLE payment_events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_events_received_idx ON payment_events (received_at);

-- History entries that are not a status change (the status stays as it was).
CREATE TYPE order_event AS ENUM ('payment_failed', 'payment_expired', 'refund', 'paid_after_cancellation');
ALTER TABLE order_history
    ADD COLUMN event order_event,
    ADD COLUMN note text;

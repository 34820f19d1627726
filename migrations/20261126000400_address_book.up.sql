-- An address book per customer, billing addresses and the totals breakdown on orders (#16).

CREATE TABLE addresses (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The same shape as an order's shipping_address (docs/API.md "Address").
    address             jsonb NOT NULL,
    is_default_shipping boolean NOT NULL DEFAULT false,
    is_default_billing  boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX addresses_user_idx ON addresses (user_id, created_at, id);
-- At most one default of each kind per customer.
CREATE UNIQUE INDEX addresses_default_shipping_key ON addresses (user_id) WHERE is_default_shipping;
CREATE UNIQUE INDEX addresses_default_billing_key ON addresses (user_id) WHERE is_default_billing;

-- Orders: the billing address, when one was given, and every part of the total. Until
-- shipping, tax and discounts exist their parts are zero, and existing orders keep
-- total = subtotal.
ALTER TABLE orders
    ADD COLUMN billing_address jsonb,
    ADD COLUMN discount_total numeric(12, 2) NOT NULL DEFAULT 0 CHECK (discount_total >= 0),
    ADD COLUMN shipping_total numeric(12, 2) NOT NULL DEFAULT 0 CHECK (shipping_total >= 0),
    ADD COLUMN tax_total numeric(12, 2) NOT NULL DEFAULT 0 CHECK (tax_total >= 0);

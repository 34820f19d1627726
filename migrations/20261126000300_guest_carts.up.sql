-- Guest carts, guest orders and idempotency for every mutating call (#15).

-- A cart belongs to a customer (user_id) or to a guest, who holds an unguessable token of
-- which only the SHA-256 is kept (token_hash). Lines now hang off the cart's own id.
ALTER TABLE carts
    ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN token_hash bytea,
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE cart_items ADD COLUMN cart_id uuid;
UPDATE cart_items ci SET cart_id = c.id FROM carts c WHERE c.user_id = ci.user_id;
ALTER TABLE cart_items
    DROP CONSTRAINT cart_items_user_id_fkey,
    DROP CONSTRAINT cart_items_variant_key;
ALTER TABLE carts DROP CONSTRAINT carts_pkey;
ALTER TABLE carts
    ADD PRIMARY KEY (id),
    ALTER COLUMN user_id DROP NOT NULL,
    ADD CONSTRAINT carts_user_key UNIQUE (user_id),
    ADD CONSTRAINT carts_token_key UNIQUE (token_hash),
    ADD CONSTRAINT carts_owner_check CHECK ((user_id IS NULL) <> (token_hash IS NULL));
ALTER TABLE cart_items
    ALTER COLUMN cart_id SET NOT NULL,
    ADD CONSTRAINT cart_items_cart_id_fkey FOREIGN KEY (cart_id) REFERENCES carts (id) ON DELETE CASCADE,
    ADD CONSTRAINT cart_items_variant_key UNIQUE (cart_id, variant_id),
    DROP COLUMN user_id;
-- The pruner removes carts left untouched past their lifetime (guests' and customers' differ).
CREATE INDEX carts_updated_idx ON carts (updated_at);

-- A guest's order has no user; the address it was placed with is kept to mail it and, once
-- an account proves that address, to let the account claim it.
ALTER TABLE orders ADD COLUMN guest_email text;
CREATE INDEX orders_guest_email_idx ON orders (guest_email) WHERE user_id IS NULL AND guest_email IS NOT NULL;

-- Idempotency keys are scoped to the caller: 'user:<uuid>' or 'cart:<hex of the token hash>'.
-- A claimed key is leased (locked_until) while its request runs: a duplicate waits for the
-- answer, and a claim whose process died lapses instead of blocking the key for a day.
ALTER TABLE idempotency_keys
    ADD COLUMN scope text,
    ADD COLUMN headers jsonb,
    ADD COLUMN locked_until timestamptz NOT NULL DEFAULT now();
UPDATE idempotency_keys SET scope = 'user:' || user_id;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys
    ALTER COLUMN scope SET NOT NULL,
    DROP COLUMN user_id,
    ADD PRIMARY KEY (scope, key);

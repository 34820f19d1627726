-- Back to carts and idempotency keys of users only: guest carts and guest-scoped keys are
-- deleted; guest orders stay, without the address they were placed with.

DELETE FROM idempotency_keys WHERE scope NOT LIKE 'user:%';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD COLUMN user_id uuid;
UPDATE idempotency_keys SET user_id = substr(scope, 6)::uuid;
DELETE FROM idempotency_keys k WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = k.user_id);
ALTER TABLE idempotency_keys
    ALTER COLUMN user_id SET NOT NULL,
    ADD CONSTRAINT idempotency_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    DROP COLUMN scope,
    DROP COLUMN headers,
    DROP COLUMN locked_until,
    ADD PRIMARY KEY (user_id, key);

DROP INDEX orders_guest_email_idx;
ALTER TABLE orders DROP COLUMN guest_email;

DELETE FROM carts WHERE user_id IS NULL;
DROP INDEX carts_updated_idx;
ALTER TABLE cart_items ADD COLUMN user_id uuid;
UPDATE cart_items ci SET user_id = c.user_id FROM carts c WHERE c.id = ci.cart_id;
ALTER TABLE cart_items
    DROP CONSTRAINT cart_items_cart_id_fkey,
    DROP CONSTRAINT cart_items_variant_key,
    DROP COLUMN cart_id;
ALTER TABLE carts DROP CONSTRAINT carts_pkey;
ALTER TABLE carts
    DROP CONSTRAINT carts_owner_check,
    DROP CONSTRAINT carts_token_key,
    DROP CONSTRAINT carts_user_key,
    ALTER COLUMN user_id SET NOT NULL,
    ADD PRIMARY KEY (user_id),
    DROP COLUMN id,
    DROP COLUMN token_hash,
    DROP COLUMN created_at;
ALTER TABLE cart_items
    ALTER COLUMN user_id SET NOT NULL,
    ADD CONSTRAINT cart_items_user_id_fkey FOREIGN KEY (user_id) REFERENCES carts (user_id) ON DELETE CASCADE,
    ADD CONSTRAINT cart_items_variant_key UNIQUE (user_id, variant_id);

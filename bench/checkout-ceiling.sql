-- PostgreSQL's own rate for what one iteration of the checkout driver makes the server do,
-- statement for statement (checked against log_statement = 'all' on a bench run):
-- 1. add to cart: the session check every authenticated request makes
--    (accounts/repository.rs), then the cart opened and the line added in one statement, with
--    no transaction around it, and the cart read back with its choices
--    (orders/cart/repository.rs);
-- 2. check out: the session check, then in one transaction the cart and its lines read and
--    the lines locked in one statement (with its choices, whether the store ships by zone,
--    the buyer's address and defaults, and the tax rate of the address given), then order,
--    lines, history and the cart's removal in one statement, the confirmation mail written to
--    the outbox (about as large as the rendered one), and last the stock with its ledger row
--    (inventory/repository.rs);
-- 3. the outbox worker delivering mail in batches, in a transaction of its own (outbox.rs):
--    one iteration in :batch runs it, :batch being the mean batch the server delivered in
--    the same run (bench/checkout.sh measures it).
-- 10 round trips per order, and 4 per batch of mail.
-- Variables: :variants (how many variants to spread over, 1 = one hot variant);
-- bench_users/bench_variants map numbers to ids (and users to a session of theirs).
\set n random(1, :variants)
\set u :client_id + 1
SELECT id AS uid, sid FROM bench_users WHERE n = :u \gset
SELECT id AS var FROM bench_variants WHERE n = :n \gset
SELECT u.is_staff, u.is_active, (s.revoked_at IS NULL AND s.expires_at > now()) AS session_alive, s.two_factor
  FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = :sid AND s.user_id = :uid;
WITH sold AS (
  SELECT v.id, v.price FROM product_variants v JOIN products p ON p.id = v.product_id
  WHERE v.id = :var AND v.is_active AND p.is_active),
cart AS (
  INSERT INTO carts (user_id) SELECT :uid FROM sold
  ON CONFLICT (user_id) DO UPDATE SET updated_at = now() RETURNING id),
fits AS (
  SELECT coalesce(sum(v.price * ci.quantity), 0) + sold.price * 1 <= 9999999999.99 AS ok
  FROM sold CROSS JOIN cart LEFT JOIN cart_items ci ON ci.cart_id = cart.id
  LEFT JOIN product_variants v ON v.id = ci.variant_id AND v.is_active
    AND EXISTS (SELECT 1 FROM products p WHERE p.id = v.product_id AND p.is_active)
  GROUP BY sold.price),
line AS (
  INSERT INTO cart_items (id, cart_id, variant_id, quantity) SELECT gen_random_uuid(), cart.id, sold.id, 1 FROM cart, sold, fits
  WHERE fits.ok
  ON CONFLICT (cart_id, variant_id) DO UPDATE SET quantity = cart_items.quantity + EXCLUDED.quantity)
SELECT (SELECT id FROM cart) AS cid, EXISTS (SELECT 1 FROM sold), coalesce((SELECT ok FROM fits), true) \gset
SELECT ci.id, p.id, v.id, p.slug, p.name, v.sku,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('name', o.name, 'value', v.option_values[o.position]) ORDER BY o.position), '[]')
        FROM product_options o WHERE o.product_id = v.product_id),
       v.price, coalesce(v.images->0->>'url', p.images->0->>'url'), v.is_active AND p.is_active, s.on_hand, ci.quantity,
       v.weight_grams, c.updated_at, c.ship_to_country, c.ship_to_region, c.shipping_method_id, c.discount_code_id
  FROM carts c JOIN cart_items ci ON ci.cart_id = c.id
  JOIN product_variants v ON v.id = ci.variant_id JOIN products p ON p.id = v.product_id
  JOIN stock_levels s ON s.variant_id = v.id
  WHERE c.id = :cid ORDER BY ci.created_at, ci.id;
SELECT u.is_staff, u.is_active, (s.revoked_at IS NULL AND s.expires_at > now()) AS session_alive, s.two_factor
  FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = :sid AND s.user_id = :uid;
BEGIN;
SELECT c.id AS cid, c.ship_to_country, c.ship_to_region, c.shipping_method_id, c.discount_code_id,
       EXISTS (SELECT 1 FROM shipping_zones) AS ships_by_zone, u.email,
       (SELECT address FROM addresses a WHERE a.user_id = c.user_id AND a.is_default_shipping) AS default_shipping,
       (SELECT address FROM addresses a WHERE a.user_id = c.user_id AND a.is_default_billing) AS default_billing,
       ci.id AS line, p.id AS product, v.id AS variant,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('name', o.name, 'value', v.option_values[o.position]) ORDER BY o.position), '[]')
        FROM product_options o WHERE o.product_id = v.product_id) AS options,
       ci.quantity, v.sku, p.name, v.price, s.on_hand, v.is_active AND p.is_active AS sold, v.weight_grams,
       t.name AS tax_name, t.percent AS tax_percent
  FROM carts c LEFT JOIN users u ON u.id = c.user_id
  JOIN cart_items ci ON ci.cart_id = c.id
  JOIN product_variants v ON v.id = ci.variant_id JOIN products p ON p.id = v.product_id
  JOIN stock_levels s ON s.variant_id = v.id
  LEFT JOIN LATERAL (SELECT name, percent FROM tax_rates WHERE country = 'US' AND region IN ('', '')
    ORDER BY region DESC LIMIT 1) t ON true
  WHERE c.user_id = :uid ORDER BY v.id FOR UPDATE OF ci \gset
WITH o AS (
  INSERT INTO orders (id, number, user_id, status, subtotal, total, currency, shipping_address, notes)
  SELECT gen_random_uuid(), 'SW-' || nextval('order_number_seq'), :uid, 'pending', price, price, 'USD', '{"full_name": "Bench"}', ''
  FROM product_variants WHERE id = :var RETURNING id, number, created_at, updated_at),
i AS (
  INSERT INTO order_items (order_id, line, product_id, variant_id, sku, name, options, unit_price, quantity, line_total)
  SELECT o.id, 1, v.product_id, v.id, v.sku, p.name, '[]', v.price, 1, v.price
  FROM o, product_variants v JOIN products p ON p.id = v.product_id WHERE v.id = :var),
h AS (
  INSERT INTO order_history (order_id, status, by_role, actor_id) SELECT o.id, 'pending', 'customer', :uid FROM o RETURNING at),
d AS (DELETE FROM cart_items WHERE cart_id = :cid)
SELECT o.id AS oid, o.number, o.created_at, o.updated_at, h.at FROM o, h \gset
INSERT INTO outbox (id, event, payload) VALUES (gen_random_uuid(), 'order_placed',
  jsonb_build_object('to', 'bench@example.com', 'subject', 'Your order', 'text', repeat('x', 600), 'html', repeat('y', 1800)));
WITH moved AS (
  UPDATE stock_levels s SET on_hand = s.on_hand - w.qty
  FROM (VALUES (CAST(:var AS uuid), 1)) AS w(id, qty), product_variants v, products p
  WHERE s.variant_id = w.id AND v.id = w.id AND p.id = v.product_id
    AND v.is_active AND p.is_active AND s.on_hand >= w.qty
  RETURNING s.variant_id AS id, w.qty, s.on_hand AS stock)
INSERT INTO inventory_movements (variant_id, delta, stock_after, reason, actor_id, order_id)
  SELECT id, -qty, stock, 'order_placed', :uid, :oid FROM moved;
COMMIT;
\set deliver random(1, :batch)
\if :deliver = 1
BEGIN;
SELECT coalesce(array_agg(id), '{}') AS due FROM (SELECT id, payload, attempts FROM outbox
  WHERE delivered_at IS NULL AND next_attempt_at <= now()
  ORDER BY next_attempt_at, id LIMIT 20 FOR UPDATE SKIP LOCKED) d \gset
UPDATE outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = ANY(:due);
COMMIT;
\endif

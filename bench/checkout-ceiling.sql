-- PostgreSQL's own rate for what one iteration of the checkout driver makes the server do:
-- add a line to the cart (and read the cart back), then the checkout transaction with the
-- same statements as swift-core/src/orders/checkout.rs, in its order: the cart's rows locked,
-- then order, lines, history and the cart's removal in one statement, and last the stock with
-- its ledger row (inventory/repository.rs), then the commit. Variables: :products (how many
-- products to spread over, 1 = one hot product); bench_users/bench_products map numbers to ids.
\set n random(1, :products)
\set u :client_id + 1
SELECT id AS uid FROM bench_users WHERE n = :u \gset
SELECT id AS prod FROM bench_products WHERE n = :n \gset
BEGIN;
SELECT is_active FROM products WHERE id = :prod;
INSERT INTO carts (user_id) VALUES (:uid) ON CONFLICT (user_id) DO UPDATE SET updated_at = now();
INSERT INTO cart_items (id, user_id, product_id, quantity) VALUES (gen_random_uuid(), :uid, :prod, 1)
  ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = cart_items.quantity + EXCLUDED.quantity;
COMMIT;
SELECT ci.id, p.id, p.slug, p.name, p.price, p.images->0->>'url', p.is_active, s.on_hand, ci.quantity
  FROM cart_items ci JOIN products p ON p.id = ci.product_id JOIN stock_levels s ON s.product_id = p.id
  WHERE ci.user_id = :uid ORDER BY ci.created_at, ci.id;
SELECT updated_at FROM carts WHERE user_id = :uid;
BEGIN;
SELECT ci.id, p.id, ci.quantity, p.sku, p.name, p.price, s.on_hand, p.is_active
  FROM cart_items ci JOIN products p ON p.id = ci.product_id JOIN stock_levels s ON s.product_id = p.id
  WHERE ci.user_id = :uid ORDER BY p.id FOR UPDATE OF ci;
SELECT gen_random_uuid() AS oid \gset
WITH o AS (
  INSERT INTO orders (id, number, user_id, status, subtotal, total, currency, shipping_address, notes)
  SELECT :oid, 'SW-' || nextval('order_number_seq'), :uid, 'pending', price, price, 'USD', '{"full_name": "Bench"}', ''
  FROM products WHERE id = :prod RETURNING number, created_at, updated_at),
i AS (
  INSERT INTO order_items (order_id, line, product_id, sku, name, unit_price, quantity, line_total)
  SELECT :oid, 1, id, sku, name, price, 1, price FROM products WHERE id = :prod),
h AS (
  INSERT INTO order_history (order_id, status, by_role, actor_id) VALUES (:oid, 'pending', 'customer', :uid) RETURNING at),
d AS (DELETE FROM cart_items WHERE user_id = :uid)
SELECT o.number, o.created_at, o.updated_at, h.at FROM o, h;
WITH moved AS (
  UPDATE stock_levels s SET on_hand = s.on_hand - w.qty
  FROM (VALUES (CAST(:prod AS uuid), 1)) AS w(id, qty), products p
  WHERE s.product_id = w.id AND p.id = w.id AND p.is_active AND s.on_hand >= w.qty
  RETURNING s.product_id AS id, w.qty, s.on_hand AS stock)
INSERT INTO inventory_movements (product_id, delta, stock_after, reason, actor_id, order_id)
  SELECT id, -qty, stock, 'order_placed', :uid, :oid FROM moved;
COMMIT;

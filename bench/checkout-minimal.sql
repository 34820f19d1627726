-- The least a sale can be: insert the order, decrement the stock if enough remains, commit.
-- PostgreSQL's rate for this on the same row is the physical limit of a flash sale here.
-- Variables as in checkout-ceiling.sql.
\set n random(1, :variants)
\set u :client_id + 1
SELECT id AS uid FROM bench_users WHERE n = :u \gset
SELECT id AS var FROM bench_variants WHERE n = :n \gset
BEGIN;
INSERT INTO orders (id, number, user_id, status, subtotal, total, currency, shipping_address, notes)
  VALUES (gen_random_uuid(), 'SW-' || nextval('order_number_seq'), :uid, 'pending', 1, 1, 'USD', '{}', '');
UPDATE stock_levels SET on_hand = on_hand - 1 WHERE variant_id = :var AND on_hand >= 1;
COMMIT;

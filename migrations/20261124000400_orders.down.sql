ALTER TABLE inventory_movements DROP CONSTRAINT inventory_movements_order_fk;
DROP TABLE idempotency_keys;
DROP TABLE order_history;
DROP TABLE order_items;
DROP TABLE orders;
DROP SEQUENCE order_number_seq;
DROP TABLE cart_items;
DROP TABLE carts;

ALTER TABLE order_history DROP COLUMN note, DROP COLUMN event;
DROP TYPE order_event;
DROP TABLE payment_events;
DROP TABLE refunds;
DROP TYPE refund_reason;
DROP TYPE refund_status;
DROP TABLE payments;
ALTER TABLE orders DROP CONSTRAINT orders_amount_refunded_check,
    DROP COLUMN amount_refunded, DROP COLUMN payment_status;
DROP TYPE payment_status;

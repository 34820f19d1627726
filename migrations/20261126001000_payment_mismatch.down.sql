-- PostgreSQL cannot drop one value of an enum: the type is made again without it. The
-- entries that used it keep their note and lose the event, as before the value existed.
UPDATE order_history SET event = NULL WHERE event = 'payment_mismatch';
ALTER TYPE order_event RENAME TO order_event_with_mismatch;
CREATE TYPE order_event AS ENUM ('payment_failed', 'payment_expired', 'refund', 'paid_after_cancellation');
ALTER TABLE order_history ALTER COLUMN event TYPE order_event USING event::text::order_event;
DROP TYPE order_event_with_mismatch;

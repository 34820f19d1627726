-- A payment Stripe reports for an order that does not pay it exactly (another amount or
-- currency): recorded on the order's history, never applied.
ALTER TYPE order_event ADD VALUE 'payment_mismatch';

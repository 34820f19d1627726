-- The transactional outbox (#17): what must reach people (mail) is written in the same
-- transaction as the change it reports, and delivered by a worker, at least once, by
-- whichever instance locks it first (FOR UPDATE SKIP LOCKED).

CREATE TYPE outbox_event AS ENUM (
    'account_verification', 'password_reset',
    'order_placed', 'order_paid', 'order_shipped', 'order_delivered', 'order_cancelled', 'order_refunded');

CREATE TABLE outbox (
    id              uuid PRIMARY KEY,
    event           outbox_event NOT NULL,
    -- The mail, rendered when the event happened: {"to", "subject", "text", "html"}.
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text
);
-- What is due: undelivered, oldest first.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL;

-- An enum value cannot be dropped: the type is made again without it.
DELETE FROM outbox WHERE event = 'security_notice';
ALTER TYPE outbox_event RENAME TO outbox_event_old;
CREATE TYPE outbox_event AS ENUM (
    'account_verification', 'password_reset',
    'order_placed', 'order_paid', 'order_shipped', 'order_delivered', 'order_cancelled', 'order_refunded');
ALTER TABLE outbox ALTER COLUMN event TYPE outbox_event USING event::text::outbox_event;
DROP TYPE outbox_event_old;

ALTER TABLE auth_sessions DROP COLUMN two_factor;
DROP TABLE two_factor_challenges;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;

-- Rate limits move from clock-aligned fixed windows (a burst straddling a boundary got twice
-- the limit) to GCRA: one "theoretical arrival time" per key. Counters are ephemeral, so the
-- old rows are simply dropped.
TRUNCATE rate_limits;
ALTER TABLE rate_limits DROP COLUMN window_start, DROP COLUMN hits;
ALTER TABLE rate_limits ADD COLUMN tat timestamptz NOT NULL;

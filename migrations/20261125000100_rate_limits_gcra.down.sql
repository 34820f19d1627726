TRUNCATE rate_limits;
ALTER TABLE rate_limits DROP COLUMN tat;
ALTER TABLE rate_limits ADD COLUMN window_start timestamptz NOT NULL, ADD COLUMN hits integer NOT NULL;

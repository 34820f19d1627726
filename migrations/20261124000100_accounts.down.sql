DROP TABLE rate_limits;
DROP TABLE one_time_tokens;
DROP TABLE refresh_tokens;
DROP TABLE auth_sessions;
DROP TABLE users;

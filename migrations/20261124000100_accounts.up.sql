-- Accounts: users, login sessions (refresh-token families), one-time tokens, rate limits.

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    -- Stored lower-cased by the application; the unique index makes that a guarantee.
    email          text NOT NULL CHECK (email = lower(email)),
    -- NULL for accounts that only sign in through a provider (has_password = false).
    password_hash  text,
    first_name     text NOT NULL DEFAULT '',
    last_name      text NOT NULL DEFAULT '',
    email_verified boolean NOT NULL DEFAULT false,
    is_staff       boolean NOT NULL DEFAULT false,
    is_active      boolean NOT NULL DEFAULT true,
    date_joined    timestamptz NOT NULL DEFAULT now(),
    last_login     timestamptz,
    -- Changes whenever the password does: reset tokens minted before it die.
    password_changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_email_trgm ON users USING gin (email gin_trgm_ops);

-- One family per sign-in: the "session" a user sees and can revoke.
CREATE TABLE auth_sessions (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    user_agent   text,
    ip           text
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX auth_sessions_expires_idx ON auth_sessions (expires_at);

-- Refresh tokens, stored only as SHA-256 hashes. used_at marks a rotated token.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Single-use tokens mailed to users (email verification, password reset), hashed.
CREATE TABLE one_time_tokens (
    token_hash bytea PRIMARY KEY,
    purpose    text NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The address the token was sent to: a verification for an old address is void.
    email      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id);

-- Fixed-window counters shared by every server instance.
CREATE TABLE rate_limits (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL
);

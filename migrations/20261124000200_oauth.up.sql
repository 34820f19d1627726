-- Google sign-in: linked provider identities, in-flight authorization flows, login codes.

-- One row per (provider, subject): how a provider identity maps to a local user.
CREATE TABLE social_accounts (
    provider      text NOT NULL,
    subject       text NOT NULL,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The provider's latest email for this identity; never copied onto the user.
    email         text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);
CREATE INDEX social_accounts_user_idx ON social_accounts (user_id);

-- A redirect flow between googleAuthorize and googleCallback. Kept in the database so that
-- any server instance can finish a flow another began.
CREATE TABLE oauth_flows (
    state_hash      bytea PRIMARY KEY,
    -- Hash of the HttpOnly cookie set on the browser that started the flow (login CSRF).
    binding_hash    bytea NOT NULL,
    pkce_verifier   text NOT NULL,
    nonce           text NOT NULL,
    next_path       text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX oauth_flows_expires_idx ON oauth_flows (expires_at);

-- Single-use, 60-second codes handed to the frontend after a successful callback.
CREATE TABLE login_codes (
    code_hash  bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created    boolean NOT NULL,
    expires_at timestamptz NOT NULL
);

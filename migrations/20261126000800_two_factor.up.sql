-- Two-factor sign-in (#19): TOTP factors, recovery codes, sign-in challenges, and whether a
-- session was opened with a second factor.

CREATE TABLE totp_factors (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- 12-byte nonce followed by the AES-256-GCM ciphertext of the secret (TWO_FACTOR_KEY).
    secret_sealed bytea NOT NULL,
    -- NULL while enrolling: the factor counts once a first code confirms it.
    confirmed_at timestamptz,
    -- The last time step a code was accepted for: each code is good once (RFC 6238 5.2).
    last_step    bigint,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Ten single-use codes, as keyed hashes; shown once when made.
CREATE TABLE recovery_codes (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Between a sign-in's first step (password, Google) and its second (a code): a
-- short-lived, single-use token, with the attempts made on it.
CREATE TABLE two_factor_challenges (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Google sign-in only: whether the first step created the account.
    created    boolean,
    attempts   integer NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL
);
CREATE INDEX two_factor_challenges_expires_idx ON two_factor_challenges (expires_at);

ALTER TABLE auth_sessions ADD COLUMN two_factor boolean NOT NULL DEFAULT false;

-- Mails about changes to how an account signs in.
ALTER TYPE outbox_event ADD VALUE 'security_notice';

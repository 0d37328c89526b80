-- Owner account, API tokens and per-client rate-limit counters (owned by vinylvault/auth.py).

-- A single-user app: at most one owner row. session_epoch changes with the
-- password, which invalidates every session cookie signed before the change.
CREATE TABLE owner (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL,
    session_epoch TEXT NOT NULL,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL
);

-- Only the sha256 of a token is stored; the plaintext is shown once.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,
    created_at   REAL NOT NULL,
    last_used_at REAL
);

-- One row per (bucket, minute): shared by every gunicorn worker.
CREATE TABLE rate_limits (
    bucket       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
) WITHOUT ROWID;

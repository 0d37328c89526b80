-- Guest links: read-only invitations the owner hands out (owned by vinylvault/guest_links.py).

-- Opening a link puts the sha256 of its token in the visitor's session cookie;
-- every guarded request looks the row up again, so deleting a row (revoke) or
-- passing expires_at ends every guest session opened with it at once. Only
-- the hash is stored; the link itself is shown to the owner once.
CREATE TABLE guest_links (
    id           INTEGER PRIMARY KEY,
    label        TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,
    created_at   REAL NOT NULL,
    expires_at   REAL,
    last_used_at REAL
);

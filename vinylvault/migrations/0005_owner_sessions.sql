-- Server-side owner sessions (owned by vinylvault/auth.py).

-- The session cookie is signed, so it cannot be forged, but a signature alone
-- cannot be revoked: a cookie is accepted only while its row is here. Logging
-- out deletes the row; "log out everywhere" and a password change delete all.
-- Only the sha256 of the id in the cookie is stored.
CREATE TABLE owner_sessions (
    id_hash    TEXT PRIMARY KEY,
    created_at REAL NOT NULL
) WITHOUT ROWID;

-- The old way to log every cookie out (a value rotated with the password) is
-- replaced by deleting the rows above.
ALTER TABLE owner DROP COLUMN session_epoch;

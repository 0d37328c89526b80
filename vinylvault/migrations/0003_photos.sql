-- Owner photos of their copies and album share links (owned by vinylvault/photos.py).

-- One row per uploaded photo. The original lives at
-- PHOTOS_DIR/originals/<album_id>/<id>.<ext>, its derivatives in the photo
-- cache under the source 'local:originals/<album_id>/<id>.<ext>'. Deleting an
-- album deletes its rows; PhotoStore.remove_orphans() then removes the files.
CREATE TABLE photos (
    id             TEXT PRIMARY KEY CHECK (length(id) = 32),   -- uuid4 hex, never chosen by a client
    album_id       INTEGER NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    visibility     TEXT NOT NULL CHECK (visibility IN ('public', 'private', 'shared')),
    title          TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    format         TEXT NOT NULL,                              -- decoded format: JPEG, PNG, ...
    ext            TEXT NOT NULL CHECK (ext IN ('jpg', 'png', 'gif', 'webp', 'bmp')),
    width          INTEGER NOT NULL,
    height         INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,                           -- size of the original
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL,
    view_count     INTEGER NOT NULL DEFAULT 0,
    last_viewed_at REAL
);
CREATE INDEX photos_by_album ON photos (album_id, created_at);

-- At most one live share link per album; only the sha256 of its token is kept,
-- so a copy of the database cannot be turned into working links.
CREATE TABLE album_shares (
    album_id   INTEGER PRIMARY KEY REFERENCES albums (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);

-- The wantlist, collection value snapshots and pressings (owned by
-- vinylvault/collection.py and sync.py).

-- Copies that are pressings of one album share Discogs' master id
-- (basic_information.master_id; 0 when the release has no master, or for CSV
-- and demo copies). Grouping and "other pressings" read this index.
ALTER TABLE albums ADD COLUMN master_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX albums_by_master ON albums (master_id, id);

-- One row per release on the Discogs wantlist (a release is wanted at most
-- once, so the release id is the key). Columns are named like those of
-- albums so the grid's query building serves both (collection.py).
CREATE TABLE wants (
    id          INTEGER PRIMARY KEY,               -- the release id
    release_id  INTEGER NOT NULL,
    master_id   INTEGER NOT NULL DEFAULT 0,
    artist      TEXT NOT NULL DEFAULT '',
    artist_sort TEXT NOT NULL DEFAULT '',
    title       TEXT NOT NULL DEFAULT '',
    title_sort  TEXT NOT NULL DEFAULT '',
    year        INTEGER NOT NULL DEFAULT 0,
    labels      TEXT NOT NULL DEFAULT '[]',
    formats     TEXT NOT NULL DEFAULT '[]',
    genres      TEXT NOT NULL DEFAULT '[]',
    styles      TEXT NOT NULL DEFAULT '[]',
    rating      INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
    date_added  TEXT NOT NULL DEFAULT '',
    cover_url   TEXT NOT NULL DEFAULT '',
    thumb_url   TEXT NOT NULL DEFAULT '',
    notes       TEXT NOT NULL DEFAULT '',          -- the owner's own note; shown to the owner only
    sync_run    TEXT,
    updated_at  TEXT NOT NULL
);
CREATE INDEX wants_by_artist ON wants (artist_sort, year, title_sort, id);
CREATE INDEX wants_by_added  ON wants (date_added, id);
CREATE INDEX wants_by_master ON wants (master_id);

CREATE TABLE want_tags (
    kind    TEXT NOT NULL CHECK (kind IN ('genre', 'style', 'format')),
    key     TEXT NOT NULL,
    want_id INTEGER NOT NULL REFERENCES wants (id) ON DELETE CASCADE,
    value   TEXT NOT NULL,
    PRIMARY KEY (kind, key, want_id)
) WITHOUT ROWID;
CREATE INDEX want_tags_by_want ON want_tags (want_id);

-- Search over the wantlist: artist, title, labels, catalog numbers (no tracks:
-- wanted releases are never fetched).
CREATE VIRTUAL TABLE wants_fts USING fts5 (
    artist, title, labels, catnos,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIEW want_search_source AS
SELECT w.id AS id, w.artist AS artist, w.title AS title,
       (SELECT group_concat(json_extract(l.value, '$.name'), ' ') FROM json_each(w.labels) AS l) AS labels,
       (SELECT group_concat(json_extract(l.value, '$.catno'), ' ') FROM json_each(w.labels) AS l) AS catnos
FROM wants AS w;
CREATE TRIGGER wants_fts_insert AFTER INSERT ON wants BEGIN
    INSERT INTO wants_fts (rowid, artist, title, labels, catnos)
    SELECT id, artist, title, labels, catnos FROM want_search_source WHERE id = NEW.id;
END;
CREATE TRIGGER wants_fts_update AFTER UPDATE OF artist, title, labels ON wants BEGIN
    DELETE FROM wants_fts WHERE rowid = OLD.id;
    INSERT INTO wants_fts (rowid, artist, title, labels, catnos)
    SELECT id, artist, title, labels, catnos FROM want_search_source WHERE id = NEW.id;
END;
CREATE TRIGGER wants_fts_delete AFTER DELETE ON wants BEGIN
    DELETE FROM wants_fts WHERE rowid = OLD.id;
END;

-- The wantlist's part of a sync run, next to the collection's in sync_state:
-- the last wantlist page stored in this run, Discogs' want count, and whether
-- it moved during the run (then removals wait, as for the collection).
ALTER TABLE sync_state ADD COLUMN wants_page INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN wants_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN wants_changed INTEGER NOT NULL DEFAULT 0;

-- The collection's value as Discogs stated it at each sync: one row per
-- snapshot, never updated. The strings are kept exactly as given (currency
-- and separators of the owner's profile); collection.parse_money reads them.
CREATE TABLE collection_value (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at TEXT NOT NULL,
    minimum  TEXT NOT NULL,
    median   TEXT NOT NULL,
    maximum  TEXT NOT NULL
);

-- Wants count as the collection for the per-process caches (filter options,
-- counts): the same version bump as albums (0004).
CREATE TRIGGER wants_version_insert AFTER INSERT ON wants BEGIN
    UPDATE collection_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER wants_version_update AFTER UPDATE ON wants BEGIN
    UPDATE collection_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER wants_version_delete AFTER DELETE ON wants BEGIN
    UPDATE collection_version SET version = version + 1 WHERE id = 1;
END;

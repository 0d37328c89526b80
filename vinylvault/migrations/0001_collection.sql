-- The collection (owned by vinylvault/collection.py and the import paths:
-- sync.py, csv_import.py, demo.py). Owner account and tokens live in 0002.

-- One row per owned copy. The key is Discogs' instance_id, because a release
-- can be owned twice; CSV rows get stable negative ids (see csv_import.py).
-- Sort keys are NOT NULL so keyset pagination compares plain values:
-- year 0 and date_added '' mean unknown.
CREATE TABLE albums (
    id               INTEGER PRIMARY KEY,
    release_id       INTEGER NOT NULL DEFAULT 0,
    artist           TEXT NOT NULL DEFAULT '',
    artist_sort      TEXT NOT NULL DEFAULT '',
    title            TEXT NOT NULL DEFAULT '',
    title_sort       TEXT NOT NULL DEFAULT '',
    year             INTEGER NOT NULL DEFAULT 0,
    labels           TEXT NOT NULL DEFAULT '[]',   -- JSON [{"name", "catno"}]
    formats          TEXT NOT NULL DEFAULT '[]',   -- JSON ["Vinyl, LP, Album", ...] display strings
    genres           TEXT NOT NULL DEFAULT '[]',   -- JSON list (filter through album_tags)
    styles           TEXT NOT NULL DEFAULT '[]',   -- JSON list (filter through album_tags)
    folder           TEXT NOT NULL DEFAULT '',
    folder_id        INTEGER,
    rating           INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
    date_added       TEXT NOT NULL DEFAULT '',
    cover_url        TEXT NOT NULL DEFAULT '',
    thumb_url        TEXT NOT NULL DEFAULT '',
    media_condition  TEXT NOT NULL DEFAULT '',
    sleeve_condition TEXT NOT NULL DEFAULT '',
    notes            TEXT NOT NULL DEFAULT '',
    custom_fields    TEXT NOT NULL DEFAULT '{}',   -- JSON {field name: value} beyond the three above
    play_count       INTEGER NOT NULL DEFAULT 0,
    last_played      TEXT,
    is_demo          INTEGER NOT NULL DEFAULT 0,
    source           TEXT NOT NULL CHECK (source IN ('discogs', 'csv', 'demo')),
    sync_run         TEXT,                          -- last Discogs sync run that saw this copy
    updated_at       TEXT NOT NULL
);

-- One index per sort in each direction of its first key (ties always ascend),
-- so a grid page walks an index instead of sorting 10,000 rows.
CREATE INDEX albums_by_artist      ON albums (artist_sort, year, title_sort, id);
CREATE INDEX albums_by_artist_desc ON albums (artist_sort DESC, year, title_sort, id);
CREATE INDEX albums_by_title       ON albums (title_sort, artist_sort, id);
CREATE INDEX albums_by_title_desc  ON albums (title_sort DESC, artist_sort, id);
CREATE INDEX albums_by_year        ON albums (year, artist_sort, title_sort, id);
CREATE INDEX albums_by_year_desc   ON albums (year DESC, artist_sort, title_sort, id);
CREATE INDEX albums_by_added       ON albums (date_added, id);
CREATE INDEX albums_by_rating      ON albums (rating, artist_sort, title_sort, id);
CREATE INDEX albums_by_rating_desc ON albums (rating DESC, artist_sort, title_sort, id);
CREATE INDEX albums_by_folder      ON albums (folder);
CREATE INDEX albums_by_release     ON albums (release_id);
CREATE INDEX albums_by_source      ON albums (source, sync_run);

-- Multi-valued filters (genre, style, format), normalized: key is casefolded.
CREATE TABLE album_tags (
    kind     TEXT NOT NULL CHECK (kind IN ('genre', 'style', 'format')),
    key      TEXT NOT NULL,
    album_id INTEGER NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    value    TEXT NOT NULL,
    PRIMARY KEY (kind, key, album_id)
) WITHOUT ROWID;
CREATE INDEX album_tags_by_album ON album_tags (album_id);

-- Artists (Discogs ids; synthetic negative ids for CSV/demo names), for artist images.
CREATE TABLE artists (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    image_url  TEXT NOT NULL DEFAULT '',
    updated_at TEXT
);
CREATE TABLE album_artists (
    album_id  INTEGER NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    artist_id INTEGER NOT NULL REFERENCES artists (id),
    PRIMARY KEY (album_id, position)
) WITHOUT ROWID;
CREATE INDEX album_artists_by_artist ON album_artists (artist_id);

-- Fetched once when an album is first opened; shared by every copy of a release.
CREATE TABLE release_details (
    release_id   INTEGER PRIMARY KEY,
    country      TEXT NOT NULL DEFAULT '',
    released     TEXT NOT NULL DEFAULT '',
    notes        TEXT NOT NULL DEFAULT '',
    tracklist    TEXT NOT NULL DEFAULT '[]',   -- JSON [{"position","title","duration","type"}]
    images       TEXT NOT NULL DEFAULT '[]',   -- JSON [{"type","uri","uri150","width","height"}]
    image_url    TEXT NOT NULL DEFAULT '',     -- primary image, else the first
    track_titles TEXT NOT NULL DEFAULT '',     -- for search
    fetched_at   TEXT NOT NULL
);

-- Full-text search over artist, title, labels, catalog numbers and track titles.
-- The triggers below keep it in step with albums and release_details, so no
-- writer can forget it.
CREATE VIRTUAL TABLE albums_fts USING fts5 (
    artist, title, labels, catnos, tracks,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE VIEW album_search_source AS
SELECT a.id AS id,
       a.artist AS artist,
       a.title AS title,
       (SELECT group_concat(json_extract(l.value, '$.name'), ' ') FROM json_each(a.labels) AS l) AS labels,
       (SELECT group_concat(json_extract(l.value, '$.catno'), ' ') FROM json_each(a.labels) AS l) AS catnos,
       coalesce((SELECT r.track_titles FROM release_details AS r WHERE r.release_id = a.release_id), '') AS tracks
FROM albums AS a;

CREATE TRIGGER albums_fts_insert AFTER INSERT ON albums BEGIN
    INSERT INTO albums_fts (rowid, artist, title, labels, catnos, tracks)
    SELECT id, artist, title, labels, catnos, tracks FROM album_search_source WHERE id = NEW.id;
END;
CREATE TRIGGER albums_fts_update AFTER UPDATE OF artist, title, labels, release_id ON albums BEGIN
    DELETE FROM albums_fts WHERE rowid = OLD.id;
    INSERT INTO albums_fts (rowid, artist, title, labels, catnos, tracks)
    SELECT id, artist, title, labels, catnos, tracks FROM album_search_source WHERE id = NEW.id;
END;
CREATE TRIGGER albums_fts_delete AFTER DELETE ON albums BEGIN
    DELETE FROM albums_fts WHERE rowid = OLD.id;
END;
CREATE TRIGGER release_details_fts_insert AFTER INSERT ON release_details BEGIN
    DELETE FROM albums_fts WHERE rowid IN (SELECT id FROM albums WHERE release_id = NEW.release_id);
    INSERT INTO albums_fts (rowid, artist, title, labels, catnos, tracks)
    SELECT s.id, s.artist, s.title, s.labels, s.catnos, s.tracks FROM album_search_source AS s
    WHERE s.id IN (SELECT id FROM albums WHERE release_id = NEW.release_id);
END;
CREATE TRIGGER release_details_fts_update AFTER UPDATE OF track_titles ON release_details BEGIN
    DELETE FROM albums_fts WHERE rowid IN (SELECT id FROM albums WHERE release_id = NEW.release_id);
    INSERT INTO albums_fts (rowid, artist, title, labels, catnos, tracks)
    SELECT s.id, s.artist, s.title, s.labels, s.catnos, s.tracks FROM album_search_source AS s
    WHERE s.id IN (SELECT id FROM albums WHERE release_id = NEW.release_id);
END;

-- "Spin the crates": the last picks, trimmed to 20 by collection.random_album.
CREATE TABLE random_picks (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    album_id  INTEGER NOT NULL,
    picked_at TEXT NOT NULL
);

-- Now Playing history.
CREATE TABLE plays (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    album_id  INTEGER NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    played_at TEXT NOT NULL
);
CREATE INDEX plays_by_album ON plays (album_id);

-- Small key/value state: Discogs username and token (set at /setup), field ids.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- The Discogs sync, one row: progress for /sync, resume point, lease.
CREATE TABLE sync_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    state         TEXT NOT NULL DEFAULT 'idle'
                  CHECK (state IN ('idle', 'running', 'interrupted', 'failed', 'done')),
    run_id        TEXT,
    username      TEXT NOT NULL DEFAULT '',
    page          INTEGER NOT NULL DEFAULT 0,   -- last page fully stored in this run
    pages         INTEGER NOT NULL DEFAULT 0,
    items_done    INTEGER NOT NULL DEFAULT 0,
    total         INTEGER NOT NULL DEFAULT 0,
    added         INTEGER NOT NULL DEFAULT 0,
    updated       INTEGER NOT NULL DEFAULT 0,
    removed       INTEGER NOT NULL DEFAULT 0,
    changed       INTEGER NOT NULL DEFAULT 0,   -- the item count moved during the run
    started_at    TEXT,
    finished_at   TEXT,
    error         TEXT,
    last_success  TEXT,
    lease_owner   TEXT,
    lease_until   REAL NOT NULL DEFAULT 0
);
INSERT INTO sync_state (id) VALUES (1);

-- Spinning a record (vinylvault/spins.py) and the scrobble queue (vinylvault/scrobble.py).

-- One row per side put on the turntable. Times are Unix seconds (REAL), so
-- the track under the needle is plain arithmetic on started_at.
-- state: playing (on the turntable now), ended (played to the end, or
-- flipped after the end), abandoned (stopped or replaced before the end).
CREATE TABLE spins (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    album_id   INTEGER NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    side       TEXT NOT NULL DEFAULT '',       -- 'A', 'B', 'Disc 1', or '' for a record of one side
    side_index INTEGER NOT NULL DEFAULT 0,     -- position of the side in the record's order
    started_at REAL NOT NULL,
    ended_at   REAL,
    state      TEXT NOT NULL DEFAULT 'playing' CHECK (state IN ('playing', 'ended', 'abandoned'))
);
CREATE INDEX spins_by_started ON spins (started_at);
CREATE INDEX spins_by_album ON spins (album_id, started_at);
-- One turntable: at most one side is playing, in every process.
CREATE UNIQUE INDEX spins_one_playing ON spins (state) WHERE state = 'playing';

-- The durable scrobble queue. One row per (service, kind, spin, track):
-- the UNIQUE key makes queueing idempotent, so however many ticks see a
-- track start or finish, it is queued once and sent once.
-- state: queued (waiting for next_attempt_at), sent, expired (a "playing
-- now" whose track was over before it could be sent), failed (refused for
-- good: bad token, bad session; the admin page shows them).
CREATE TABLE scrobbles (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    service         TEXT NOT NULL CHECK (service IN ('listenbrainz', 'lastfm')),
    kind            TEXT NOT NULL CHECK (kind IN ('now_playing', 'listen')),
    spin_id         INTEGER NOT NULL,
    track_index     INTEGER NOT NULL,
    listened_at     INTEGER NOT NULL,          -- when the track started (Unix seconds)
    ends_at         INTEGER NOT NULL,          -- when the track ends (a now playing expires then)
    payload         TEXT NOT NULL,             -- JSON: artist, track, album, duration, release metadata
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sent', 'expired', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    claimed_until   REAL NOT NULL DEFAULT 0,   -- a sender's lease: no two processes send one row
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      REAL NOT NULL,
    sent_at         REAL,
    UNIQUE (service, kind, spin_id, track_index)
);
CREATE INDEX scrobbles_due ON scrobbles (state, next_attempt_at);

-- Per-service pause after a 429 or a rate-limit header saying the budget is spent.
CREATE TABLE scrobble_services (
    service      TEXT PRIMARY KEY,
    paused_until REAL NOT NULL DEFAULT 0
) WITHOUT ROWID;

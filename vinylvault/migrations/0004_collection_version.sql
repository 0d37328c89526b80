-- A counter bumped by every change to albums and their tags (owned by
-- vinylvault/collection.py). Whole-collection numbers (filter options,
-- statistics, counts) are cached per process under (epoch, version): one
-- primary-key read tells whether they are stale. Triggers, so no writer can
-- forget to bump it. ``epoch`` is random per database file, so a cache never
-- mistakes another (or a recreated) database at the same version for this one.
CREATE TABLE collection_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    epoch   TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0
);
INSERT INTO collection_version (id, epoch) VALUES (1, lower(hex(randomblob(16))));

CREATE TRIGGER albums_version_insert AFTER INSERT ON albums BEGIN
    UPDATE collection_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER albums_version_update AFTER UPDATE ON albums BEGIN
    UPDATE collection_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER albums_version_delete AFTER DELETE ON albums BEGIN
    UPDATE collection_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER album_tags_version_insert AFTER INSERT ON album_tags BEGIN
    UPDATE collection_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER album_tags_version_delete AFTER DELETE ON album_tags BEGIN
    UPDATE collection_version SET version = version + 1 WHERE id = 1;
END;

"""vinylvault.db: which files count as migrations."""

from __future__ import annotations

from pathlib import Path

from vinylvault import db


def test_only_exactly_named_files_are_migrations(tmp_path: Path, monkeypatch):
    for name in ("0001_first.sql", "0002_second.sql\n", "0002_second.sql.orig", "x0002_second.sql"):
        (tmp_path / name).write_text("SELECT 1;")
    monkeypatch.setattr(db, "MIGRATIONS_DIR", tmp_path)
    assert [(number, path.name) for number, path in db.migrations()] == [(1, "0001_first.sql")]


def test_the_shipped_migrations_are_numbered_without_gaps():
    numbers = [number for number, _ in db.migrations()]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers

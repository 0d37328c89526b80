"""Migrations run once each, in order of their numbers, also across a gap left for another branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from vinylvault import db


@pytest.fixture
def migrations_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    monkeypatch.setattr(db, "MIGRATIONS_DIR", folder)
    return folder


def test_a_gap_is_applied_in_order_and_a_later_file_runs_once(migrations_dir: Path, tmp_path: Path):
    (migrations_dir / "0001_a.sql").write_text("CREATE TABLE a (x);")
    (migrations_dir / "0003_c.sql").write_text("INSERT INTO a VALUES ('c');")
    conn = db.connect(tmp_path / "t.db")
    assert db.migrate(conn) == 3
    (migrations_dir / "0004_d.sql").write_text("INSERT INTO a VALUES ('d');")
    assert db.migrate(conn) == 4 and db.migrate(conn) == 4
    assert [row[0] for row in conn.execute("SELECT x FROM a")] == ["c", "d"]


def test_two_files_with_one_number_are_refused(migrations_dir: Path, tmp_path: Path):
    (migrations_dir / "0001_a.sql").write_text("CREATE TABLE a (x);")
    (migrations_dir / "0001_b.sql").write_text("CREATE TABLE b (x);")
    with pytest.raises(db.MigrationError):
        db.migrate(db.connect(tmp_path / "t.db"))


def test_the_shipped_migrations_reach_the_highest_number(tmp_path: Path):
    path = tmp_path / "v.db"
    db.initialize(path)
    conn = db.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.migrations()[-1][0]
    assert conn.execute("SELECT count(*) FROM wants").fetchone()[0] == 0

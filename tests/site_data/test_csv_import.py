"""CSV import of quirky Discogs exports, written here byte by byte, into a real SQLite database."""

from __future__ import annotations

import io

import pytest

from vinylvault.library import collection, csv_import
from vinylvault.library.csv_import import CSVImportError, import_csv

HEADER = (
    "Catalog#,Artist,Title,Label,Format,Rating,Released,release_id,CollectionFolder,Date Added,"
    "Collection Media Condition,Collection Sleeve Condition,Collection Notes"
)


def by_title(conn) -> dict[str, collection.Album]:
    page = collection.list_albums(conn, limit=500)
    return {album.title: album for album in page.albums}


def test_quirky_export_crlf_bom_dates_quotes_unicode(conn, tmp_path):
    rows = [
        HEADER,
        '"4XT-12545, 4XT 12545",Sarah McLachlan,Solace,"Capitol Records, Nettwerk","Cass, Album, RE",5,1991,'
        '1234,Uncategorized,2019-03-02 10:11:12,Very Good Plus (VG+),Generic,"""Mondo"" edition"',
        ' SBH-009,Nadja (5),Foreverglade ,Self,"2xLP, Album, RSD, RE, Yel",,0,555,Doom,23/04/2023 04:38,,,',
        'none,Sigur Rós,如迷宮,ΚΕΦΑΛΗΞΘ,CD,3,2002,777,Uncategorized,2020-01-01 00:00:00,,,"line one\r\nline two"',
        "X1,Queensrÿche,Empire,EMI,LP,not-a-rating,1990,888,Uncategorized,2020-01-01 00:00:00,,,",
        "X2,Broken,Row,EMI,LP,3,1990,999,Uncategorized,31/31/2020 99:99,,,",
        "X3,Too,Few,Columns",
    ]
    path = tmp_path / "export.csv"
    path.write_bytes("\ufeff".encode("utf-8") + "\r\n".join(rows).encode("utf-8") + b"\r\n")
    report = import_csv(conn, path)
    assert report.imported == 3 and report.updated == 0
    assert [line for line, _reason in report.skipped] == [6, 7, 8]  # the multi-line cell spans lines 4-5
    assert "Rating" in report.skipped[0][1] and "Date Added" in report.skipped[1][1]
    assert "columns" in report.skipped[2][1]

    albums = by_title(conn)
    solace = albums["Solace"]
    assert [(l.name, l.catno) for l in solace.labels] == [("Capitol Records", "4XT-12545"), ("Nettwerk", "4XT 12545")]
    assert solace.formats == ["Cass, Album, RE"] and solace.rating == 5 and solace.year == 1991
    assert solace.date_added == "2019-03-02T10:11:12" and solace.notes == '"Mondo" edition'
    assert solace.media_condition == "Very Good Plus (VG+)" and solace.sleeve_condition == "Generic"
    nadja = albums["Foreverglade"]  # trailing space trimmed
    assert nadja.artist == "Nadja (5)" and nadja.year is None and nadja.rating == 0
    assert [label.catno for label in nadja.labels] == ["SBH-009"] and nadja.date_added == "2023-04-23T04:38:00"
    assert albums["如迷宮"].notes == "line one\r\nline two"
    assert collection.list_albums(conn, format="cassette").total == 1
    assert collection.list_albums(conn, format="vinyl").total == 1
    assert collection.list_albums(conn, q="ros").albums[0].title == "如迷宮"  # accents folded
    assert collection.list_albums(conn, sort="artist").albums[0].artist == "Nadja (5)"  # "(5)" not in the sort key


def test_duplicate_release_ids_are_two_copies_and_reimport_updates(conn):
    body = "\n".join([HEADER, *["X,Obituary,Cause Of Death,Roadrunner,LP,,1990,42,Uncategorized,,,,"] * 2])
    first = import_csv(conn, io.BytesIO(body.encode("utf-8")))
    assert first.imported == 2
    again = import_csv(conn, io.BytesIO(body.replace("LP,,", "LP,4,").encode("utf-8")))
    assert again.imported == 0 and again.updated == 2
    assert collection.counts(conn)["csv"] == 2
    assert {a.rating for a in collection.list_albums(conn).albums} == {4}


def test_columns_are_mapped_by_name_and_extra_fields_kept(conn):
    body = (
        "Title,release_id,Artist,Collection Originally from,Collection Notes\nAnimals,1,Pink Floyd,Record fair,nice\n"
    )
    report = import_csv(conn, io.BytesIO(body.encode("utf-8")))
    assert report.imported == 1
    album = collection.list_albums(conn).albums[0]
    assert album.artist == "Pink Floyd" and album.notes == "nice"
    assert album.custom_fields == {"Originally from": "Record fair"}


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "empty"),
        (b"Foo,Bar\n1,2\n", "missing column"),
        ("Artist,Title\nA,\xe9\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unusable_files_are_refused_whole(conn, body, message):
    with pytest.raises(CSVImportError, match=message):
        import_csv(conn, io.BytesIO(body))
    assert collection.counts(conn)["albums"] == 0


def test_oversized_input_is_refused_without_reading_it_all(conn, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_BYTES", 1000)
    body = (HEADER + "\n" + "X,A,B,L,LP,,1990,1,F,,,,\n" * 200).encode("utf-8")
    with pytest.raises(CSVImportError, match="larger"):
        import_csv(conn, io.BytesIO(body))
    assert collection.counts(conn)["albums"] == 0

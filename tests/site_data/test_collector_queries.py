"""Pressings, duplicates, shelf and condition filters, and the wantlist grid, over real SQLite."""

from __future__ import annotations

import pytest

from tests.support.albums import album, store
from vinylvault.library import collection
from vinylvault.library.collection import AlbumRecord, WantRecord


def copy(album_id: int, release_id: int, master_id: int, artist: str = "Can", title: str = "", **fields) -> AlbumRecord:
    """A Discogs copy, by default one of Can's Tago Mago pressings."""
    title = title or f"Tago Mago {album_id}"
    return album(album_id, artist, title, "discogs", release_id=release_id, master_id=master_id, **fields)


@pytest.fixture
def shelf(conn):
    store(
        conn,
        [
            copy(1, 10, 500, year=1971, media_condition="Very Good Plus (VG+)", custom_fields={"Shelf": "A3-12"}),
            copy(2, 10, 500, year=1971, media_condition="Mint (M)", custom_fields={"Shelf": "B1-01"}),
            copy(3, 11, 500, year=1991, sleeve_condition="Generic", custom_fields={"Shelf": "A3-40"}),
            copy(4, 12, 0, artist="Neu!", title="Neu!", custom_fields={"Location": "A3-99"}),
            copy(5, 13, 600, artist="Faust", title="IV", media_condition="very good plus (vg+)"),
            WantRecord(
                id=20,
                release_id=20,
                master_id=500,
                artist="Can",
                title="Tago Mago (Japan)",
                year=1972,
                genres=["Rock"],
                format_names=["Vinyl"],
            ),
            WantRecord(id=21, release_id=21, master_id=0, artist="Cluster", title="Zuckerzeit", genres=["Electronic"]),
            WantRecord(id=12, release_id=12, master_id=0, artist="Neu!", title="Neu! (an upgrade)"),
        ],
    )
    return conn


def ids(page) -> list[int]:
    return [a.id for a in page.albums]


def test_other_pressings_and_wanted_pressings_share_the_master(shelf):
    first = collection.get_album(shelf, 1)
    assert [a.id for a in collection.other_pressings(shelf, first)] == [2, 3]
    assert [w.id for w in collection.wanted_pressings(shelf, first)] == [20]
    no_master = collection.get_album(shelf, 4)
    assert collection.other_pressings(shelf, no_master) == []
    assert [w.id for w in collection.wanted_pressings(shelf, no_master)] == [12]  # same release wanted


def test_duplicates_lists_releases_owned_more_than_once(shelf):
    assert ids(collection.list_albums(shelf, duplicates="1", sort="added")) == [1, 2]
    with pytest.raises(collection.InvalidQuery):
        collection.list_albums(shelf, duplicates="yes")


def test_group_by_master_shows_one_card_per_master_with_counts(shelf):
    page = collection.list_albums(shelf, group="master", sort="added", order="asc")
    assert ids(page) == [1, 4, 5] and page.total == 3
    counts = collection.pressings_by_master(shelf, page.albums)
    assert counts == {500: collection.Pressings(releases=2, copies=3), 600: collection.Pressings(1, 1)}
    with pytest.raises(collection.InvalidQuery):
        collection.list_albums(shelf, group="label")


def test_shelf_filter_reads_the_field_the_owner_chose(shelf):
    with pytest.raises(collection.InvalidQuery) as refused:
        collection.list_albums(shelf, shelf="A3")
    assert refused.value.param == "shelf"
    collection.set_setting(shelf, collection.SHELF_FIELD_KEY, "Shelf")
    assert ids(collection.list_albums(shelf, shelf="a3", sort="added")) == [1, 3]
    assert ids(collection.list_albums(shelf, shelf="A3-1", sort="added")) == [1]
    assert ids(collection.list_albums(shelf, shelf="%", sort="added")) == []  # taken literally
    collection.set_setting(shelf, collection.SHELF_FIELD_KEY, "Location")
    assert ids(collection.list_albums(shelf, shelf="A3")) == [4]


def test_condition_filters_ignore_case_and_offer_what_is_there(shelf):
    assert ids(collection.list_albums(shelf, media="Very Good Plus (VG+)", sort="added")) == [1, 5]
    assert ids(collection.list_albums(shelf, sleeve="Generic")) == [3]
    options = collection.filter_options(shelf)
    assert [(o.value, o.count) for o in options.media] == [("Very Good Plus (VG+)", 2), ("Mint (M)", 1)]
    assert [o.value for o in options.sleeve] == ["Generic"]
    first, last = collection.neighbours(shelf, 5, media="Very Good Plus (VG+)", sort="added")
    assert (first, last) == (1, None)


def test_wants_page_sort_filter_and_search_like_the_grid(shelf):
    assert ids(collection.list_wants(shelf)) == [20, 21, 12]
    assert ids(collection.list_wants(shelf, genre="rock")) == [20]
    assert ids(collection.list_wants(shelf, q="zucker")) == [21]
    first = collection.list_wants(shelf, limit=2)
    rest = collection.list_wants(shelf, limit=2, after=first.next_cursor)
    assert ids(first) + ids(rest) == [20, 21, 12] and rest.next_cursor is None
    assert [o.value for o in collection.want_filter_options(shelf).genres] == ["Electronic", "Rock"]
    with pytest.raises(collection.InvalidQuery):
        collection.list_wants(shelf, sort="price")

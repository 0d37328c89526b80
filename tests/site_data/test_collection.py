"""Collection queries on real SQLite: sort, keyset paging, filters, search, neighbours, random, stats."""

from __future__ import annotations

import random

import pytest

from vinylvault import db
from vinylvault.library import collection, demo
from vinylvault.library.collection import AlbumRecord, InvalidQuery, Label, list_albums, save_album, write_transaction


@pytest.fixture(scope="module")
def big_path(tmp_path_factory):
    """A 10,000-album database, built once for the module; tests using it only read."""
    path = tmp_path_factory.mktemp("big") / "vinylvault.db"
    db.initialize(path)
    conn = db.connect(path)
    demo.make_synthetic_collection(conn, 10_000, seed=7)
    conn.close()
    return path


@pytest.fixture
def big(big_path):
    conn = db.connect(big_path)
    yield conn
    conn.close()


def record(n: int, **fields) -> AlbumRecord:
    base = dict(
        id=n,
        source="discogs",
        release_id=100 + n,
        artist=f"Artist {n}",
        title=f"Title {n}",
        year=1970 + n,
        rating=0,
        date_added=f"2020-01-{n:02d}T00:00:00",
    )
    base.update(fields)
    return AlbumRecord(**base)


def add(conn, *records: AlbumRecord) -> None:
    with write_transaction(conn):
        for r in records:
            save_album(conn, r)


def walk(conn, **params) -> list[int]:
    """Every album id, page by page through cursors."""
    ids, cursor = [], None
    while True:
        page = list_albums(conn, limit=97, after=cursor, **params)
        ids += [a.id for a in page.albums]
        cursor = page.next_cursor
        if cursor is None:
            return ids


def python_order(albums, sort: str, order: str) -> list[int]:
    """The documented order computed in Python: first key in ``order``, ties ascending."""
    keys = {
        "artist": lambda a: (
            collection.artist_sort_key(a.artist),
            a.year or 0,
            collection.title_sort_key(a.title),
            a.id,
        ),
        "title": lambda a: (collection.title_sort_key(a.title), collection.artist_sort_key(a.artist), a.id),
        "year": lambda a: (a.year or 0, collection.artist_sort_key(a.artist), collection.title_sort_key(a.title), a.id),
        "added": lambda a: (a.date_added, a.id),
        "rating": lambda a: (a.rating, collection.artist_sort_key(a.artist), collection.title_sort_key(a.title), a.id),
    }[sort]
    ordered = sorted(albums, key=keys)
    if order == "desc":  # stable: reverse the first key only, keep ties ascending
        ordered = sorted(ordered, key=lambda a: keys(a)[0], reverse=True)
    return [a.id for a in ordered]


@pytest.mark.parametrize("sort", list(collection.SORTS))
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_keyset_pages_cover_every_album_once_in_the_documented_order(big, sort, order):
    everything = collection.get_albums(big, list(range(1, 10_001)))
    ids = walk(big, sort=sort, order=order)
    assert ids == python_order(everything, sort, order)


def test_offset_paging_matches_cursor_paging(big):
    first = list_albums(big, sort="year", limit=48)
    second = list_albums(big, sort="year", limit=48, offset=first.next_offset)
    via_cursor = list_albums(big, sort="year", limit=48, after=first.next_cursor)
    assert [a.id for a in second.albums] == [a.id for a in via_cursor.albums]
    assert first.total == 10_000 and first.next_offset == 48


def test_filters_combine_and_ignore_case(big):
    page = list_albums(big, genre="rock", decade=1970, format="VINYL", limit=500)
    assert page.total == len(walk(big, genre="Rock", decade="1970", format="Vinyl")) > 0
    for album in page.albums:
        assert (
            "Rock" in album.genres
            and 1970 <= album.year <= 1979
            and album.formats[0].startswith(("Vinyl", "2 x Vinyl"))
        )
    options = collection.filter_options(big)
    rock = next(o for o in options.genres if o.value == "Rock")
    assert rock.count == list_albums(big, genre="Rock").total
    folder = options.folders[0]
    assert list_albums(big, folder=folder.value).total == folder.count
    unknown_year = collection.collection_stats(big).unknown_year
    assert unknown_year > 0 and sum(o.count for o in options.decades) == 10_000 - unknown_year


@pytest.mark.parametrize("sort", ["artist", "added", "rating"])
def test_common_and_rare_tag_combinations_page_in_the_documented_order(big, sort):
    """A common genre walks the sort index; a rare combination fetches its albums by id and sorts them."""
    everything = collection.get_albums(big, list(range(1, 10_001)))
    combos = [
        {"genre": "Rock"},
        {"genre": "jazz", "style": "DUB"},
        {"style": "Chiptune", "decade": 1960},
        {"genre": "Rock", "style": "Ambient", "decade": 1990},
    ]
    shapes = set()
    for params in combos:

        def matches(album, params=params):
            return all(
                collection.fold(params[kind]) in {collection.fold(v) for v in values}
                for kind, values in (("genre", album.genres), ("style", album.styles))
                if kind in params
            ) and ("decade" not in params or params["decade"] <= (album.year or 0) <= params["decade"] + 9)

        expected = python_order([a for a in everything if matches(a)], sort, collection.DEFAULT_ORDER[sort])
        first = list_albums(big, sort=sort, limit=20, **params)
        assert first.total == len(expected) > 0
        assert [a.id for a in first.albums] == expected[:20]
        assert walk(big, sort=sort, **params) == expected
        filters = collection._filters(
            big, params.get("genre"), params.get("style"), params.get("decade"), None, None, None
        )
        shapes.add(collection._walk_costs_more(big, collection._tags(big, filters), first.total, 21))
    assert shapes == {True, False}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"sort": "price"}, "sort"),
        ({"order": "up"}, "order"),
        ({"decade": 1975}, "decade"),
        ({"decade": "abc"}, "decade"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_000}, "limit"),
        ({"after": "not-a-cursor!"}, "after"),
        ({"offset": -1}, "offset"),
        ({"q": "x" * 500}, "q"),
    ],
)
def test_bad_parameters_raise_invalid_query(conn, params, message):
    with pytest.raises(InvalidQuery) as info:
        list_albums(conn, **params)
    assert info.value.param == message


def test_cursor_from_another_sort_is_refused(big):
    cursor = list_albums(big, sort="added", limit=5).next_cursor
    with pytest.raises(InvalidQuery, match="after"):
        list_albums(big, sort="artist", after=cursor)


def test_search_prefix_accents_labels_catalog_numbers_and_injection(conn):
    add(
        conn,
        record(1, artist="Sigur Rós", title="Ágætis byrjun", labels=[Label("FatCat", "FATCD11")]),
        record(2, artist="Nadja (5)", title="Thaumogenesis", labels=[Label("Archive", "4XT-12545")]),
        record(3, artist="The Beatles", title='Abbey "Road"', labels=[Label("Apple", "PCS 7088")]),
    )
    assert [a.id for a in collection.search(conn, "sigur ros").albums] == [1]
    assert [a.id for a in collection.search(conn, "agæ").albums] == [1]  # prefix, accents folded
    assert [a.id for a in collection.search(conn, "fatcat").albums] == [1]  # label
    assert [a.id for a in collection.search(conn, "4XT-12545").albums] == [2]  # catalog number
    assert [a.id for a in collection.search(conn, "nadja").albums] == [2]
    for hostile in ['"', "AND OR NOT", "title:abbey", "NEAR(a b)", "*", 'abbey"road', "a' OR 1=1 --", "^"]:
        collection.search(conn, hostile)  # never an FTS syntax error
        list_albums(conn, q=hostile)
    assert [a.id for a in collection.search(conn, 'abbey "road').albums] == [3]
    assert collection.search(conn, "   ").total == 0


def test_search_finds_track_titles_once_details_are_stored(conn):
    add(conn, record(1), record(2, release_id=101))  # two copies of one release
    assert collection.search(conn, "Östermalm").total == 0
    with write_transaction(conn):
        collection.save_release_details(
            conn,
            collection.ReleaseDetails(
                101, "Sweden", "1999", "", [collection.Track("A", "Östermalm", "4:45", "track")], [], "", "now"
            ),
        )
    assert {a.id for a in collection.search(conn, "ostermalm").albums} == {1, 2}
    add(conn, record(1, title="Renamed"))  # updating the album keeps its tracks searchable
    assert {a.id for a in list_albums(conn, q="ostermalm renamed").albums} == {1}
    collection.delete_albums(conn, [2])
    assert {a.id for a in collection.search(conn, "ostermalm").albums} == {1}


def test_a_search_too_common_to_rank_pages_through_every_match_once_in_the_grid_order(big):
    word = "harvest"  # in about a quarter of the synthetic albums
    total = collection.search(big, word, limit=1).total
    assert total > collection.RANKED_MATCHES
    found: list[int] = []
    for offset in range(0, total + collection.MAX_LIMIT, collection.MAX_LIMIT):
        found += [a.id for a in collection.search(big, word, limit=collection.MAX_LIMIT, offset=offset).albums]
    assert len(found) == total
    assert len(set(found)) == total, "an album came back on two pages"
    # The same albums, in the same order, as the grid's artist order filtered by the same words.
    assert found == walk(big, q=word)


def test_a_search_with_few_matches_stays_ranked_artist_and_title_first(conn):
    add(
        conn,
        record(1, artist="Someone", title="Other", labels=[Label("Harvest", "SHVL 795")]),
        record(2, artist="Aaron", title="Harvest Moon"),
        record(3, artist="Harvest Ministers", title="Little Blue"),
    )
    assert [a.id for a in collection.search(conn, "harvest").albums] == [3, 2, 1]


def test_neighbours_follow_the_grid_order_and_filters(big):
    ids = walk(big, sort="rating", genre="Jazz")
    middle = ids[len(ids) // 2]
    assert collection.neighbours(big, middle, sort="rating", genre="Jazz") == (
        ids[len(ids) // 2 - 1],
        ids[len(ids) // 2 + 1],
    )
    assert collection.neighbours(big, ids[0], sort="rating", genre="Jazz")[0] is None
    assert collection.neighbours(big, ids[-1], sort="rating", genre="Jazz")[1] is None
    assert collection.neighbours(big, 999_999) == (None, None)


def test_random_never_repeats_the_last_20_and_weighs_by_rating(conn):
    # 50 unrated and 10 five-star albums: five-star picks expected 10*5/(50+50) = half.
    add(conn, *[record(n, rating=5 if n <= 10 else 0) for n in range(1, 61)])
    rng = random.Random(1234)
    picks = [collection.random_album(conn, rng).id for _ in range(2000)]
    for i in range(len(picks)):
        assert picks[i] not in picks[max(0, i - 20) : i]
    five_star = sum(1 for p in picks if p <= 10) / len(picks)
    # The history lowers the five-star share below 0.5 (recent ones are excluded); unweighted would be 1/6.
    assert 0.3 < five_star < 0.55
    assert collection.recent_random_picks(conn) == picks[::-1][:20]


def test_random_on_tiny_and_empty_collections(conn):
    assert collection.random_album(conn) is None
    add(conn, record(1))
    assert [collection.random_album(conn).id for _ in range(3)] == [1, 1, 1]
    add(conn, record(2))
    picks = [collection.random_album(conn).id for _ in range(6)]
    assert all(a != b for a, b in zip(picks, picks[1:]))  # never the last pick when there is a choice


def test_record_play_and_stats(conn):
    add(conn, record(1, genres=["Jazz"], format_names=["Vinyl"]), record(2, year=0, genres=["Jazz", "Rock"]))
    assert collection.record_play(conn, 1) and collection.record_play(conn, 1)
    assert not collection.record_play(conn, 99)
    album = collection.get_album(conn, 1)
    assert album.play_count == 2 and album.last_played
    stats = collection.collection_stats(conn)
    assert stats.albums == 2 and stats.plays == 2 and stats.unknown_year == 1
    assert [(o.value, o.count) for o in stats.by_genre] == [("Jazz", 2), ("Rock", 1)]
    assert [o.label for o in stats.by_decade] == ["1970s"] and stats.newest[0].id == 2
    add(conn, record(1, title="Updated"))  # a re-sync keeps the play count
    assert collection.get_album(conn, 1).play_count == 2


def test_cover_urls_counts_and_settings(conn):
    add(
        conn,
        record(1, cover_url="https://x/1.jpg", thumb_url="https://x/1t.jpg"),
        record(2, thumb_url="https://x/2t.jpg"),
        record(3),
        record(4, cover_url="https://x/1.jpg"),
    )
    assert collection.all_cover_urls(conn) == ["https://x/1.jpg", "https://x/2t.jpg"]
    assert collection.counts(conn) == {"albums": 4, "discogs": 4, "csv": 0, "demo": 0}
    collection.set_setting(conn, "discogs_username", "me")
    assert collection.get_setting(conn, "discogs_username") == "me"
    collection.set_setting(conn, "discogs_username", None)
    assert collection.get_setting(conn, "discogs_username", "none") == "none"


def test_artist_sort_key_drops_disambiguation_and_article():
    assert collection.artist_sort_key("Nadja (5)") == "nadja"
    assert collection.artist_sort_key("The Beatles") == "beatles"
    assert collection.artist_sort_key("Émile") == "emile"


def test_demo_loads_idempotently_and_is_removable(conn, tmp_path):
    assert demo.load_demo(conn, tmp_path) == 48
    assert demo.load_demo(conn, tmp_path) == 48
    assert collection.counts(conn) == {"albums": 48, "discogs": 0, "csv": 0, "demo": 48}
    covers = sorted((tmp_path / "demo" / "covers").glob("*.jpg"))
    assert len(covers) == 48
    album = collection.get_album(conn, -1)
    assert album.is_demo and album.cover_url == "local:demo/covers/1.jpg" and album.discogs_url is None
    assert collection.get_release_details(conn, -1).tracklist
    decades = {o.value for o in collection.filter_options(conn).decades}
    assert len(decades) >= 6
    from PIL import Image

    with Image.open(covers[0]) as img:
        assert img.size == (600, 600) and img.format == "JPEG"
        assert len(img.convert("RGB").resize((32, 32)).getcolors(1024) or ()) > 50  # a design, not a flat fill
    assert demo.remove_demo(conn, tmp_path) == demo.RemovedDemo(albums=48, cached_images=0)
    assert collection.counts(conn)["albums"] == 0 and not (tmp_path / "demo").exists()
    assert conn.execute("SELECT count(*) FROM release_details").fetchone()[0] == 0


# --- Per-process cache of whole-collection aggregates ------------------------------------------


def genre_counts(conn) -> dict[str, int]:
    return {o.value: o.count for o in collection.filter_options(conn).genres}


def test_aggregates_are_reused_while_the_collection_is_unchanged(conn):
    add(conn, record(1, genres=["Jazz"]))
    assert collection.filter_options(conn) is collection.filter_options(conn)
    assert collection.collection_stats(conn) is collection.collection_stats(conn)
    # Reads and writes elsewhere (settings, random picks) leave the version alone.
    version = collection.collection_version(conn)
    collection.set_setting(conn, "discogs_username", "me")
    collection.random_album(conn)
    assert collection.collection_version(conn) == version
    counts = collection.counts(conn)
    counts["albums"] = 99  # the caller's own copy: the cached value is untouched
    assert collection.counts(conn)["albums"] == 1


def test_every_album_write_shows_up_on_the_next_call(conn):
    add(conn, record(1, genres=["Jazz"], folder="Shelf"))
    assert genre_counts(conn) == {"Jazz": 1} and collection.counts(conn)["albums"] == 1
    add(conn, record(2, genres=["Jazz", "Rock"]))  # insert
    assert genre_counts(conn) == {"Jazz": 2, "Rock": 1}
    add(conn, record(2, genres=["Funk"]))  # update: tags replaced
    assert genre_counts(conn) == {"Jazz": 1, "Funk": 1}
    assert collection.collection_stats(conn).plays == 0
    collection.record_play(conn, 1)  # a play changes the statistics
    assert collection.collection_stats(conn).plays == 1
    with write_transaction(conn):
        collection.delete_albums(conn, [1])  # delete (tags by cascade)
    assert genre_counts(conn) == {"Funk": 1}
    assert collection.counts(conn)["albums"] == 1 and collection.collection_stats(conn).albums == 1
    assert [o.value for o in collection.filter_options(conn).folders] == []


def test_a_write_from_another_connection_invalidates(conn, tmp_path):
    add(conn, record(1, genres=["Jazz"]))
    assert genre_counts(conn) == {"Jazz": 1}
    other = db.connect(tmp_path / "vinylvault.db")  # as another worker process would
    try:
        add(other, record(2, genres=["Rock"]))
    finally:
        other.close()
    assert genre_counts(conn) == {"Jazz": 1, "Rock": 1}


def test_two_databases_at_the_same_version_are_not_confused(conn, tmp_path):
    path = tmp_path / "second.db"
    db.initialize(path)
    second = db.connect(path)
    try:
        add(conn, record(1, genres=["Jazz"]))
        add(second, record(1, genres=["Rock"]))
        assert collection.collection_version(conn)[1] == collection.collection_version(second)[1]
        assert genre_counts(conn) == {"Jazz": 1}
        assert genre_counts(second) == {"Rock": 1}
        assert genre_counts(conn) == {"Jazz": 1}
    finally:
        second.close()

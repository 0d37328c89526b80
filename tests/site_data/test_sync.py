"""Discogs client and sync against the fake Discogs API (real HTTP on 127.0.0.1, real SQLite)."""

from __future__ import annotations

import logging
import math

import pytest

from vinylvault import db
from vinylvault.library import collection, sync
from vinylvault.library.discogs import DiscogsAuthError, DiscogsClient, DiscogsNotFound, DiscogsUnavailable

PAGES_PATH = "/collection/folders/0/releases"


def fill(fake, n: int) -> None:
    fake.items = [fake.make_item(i) for i in range(n)]


def album_count(conn) -> int:
    return conn.execute("SELECT count(*) FROM albums").fetchone()[0]


def test_full_sync_uses_one_request_per_page(conn, fake, client):
    fill(fake, 2500)
    status = sync.run_sync(conn, client, fake.username)
    assert album_count(conn) == 2500
    assert fake.count(PAGES_PATH) == math.ceil(2500 / 100) == 25
    assert fake.pages_requested() == list(range(1, 26))
    # Plus exactly one folder list, one custom-field list, one (empty) wantlist page and
    # the value (documented in sync.py).
    assert fake.count() == 25 + 2 + 1 + 1
    assert status["state"] == "done" and status["items_done"] == 2500 and status["total"] == 2500
    assert status["added"] == 2500 and status["removed"] == 0 and status["last_success"]


def test_pages_shorter_than_per_page_are_followed_to_the_last(conn, fake, client):
    fill(fake, 1000)
    fake.short_pages = True
    sync.run_sync(conn, client, fake.username)
    assert album_count(conn) == 1000
    assert fake.count(PAGES_PATH) > 10  # ceil(1000 / per_page) would have stopped early


def test_copies_of_one_release_are_kept_apart_and_resync_does_not_duplicate(conn, fake, client):
    fill(fake, 300)
    sync.run_sync(conn, client, fake.username)
    status = sync.run_sync(conn, client, fake.username)
    assert album_count(conn) == 300
    assert conn.execute("SELECT count(DISTINCT release_id) FROM albums").fetchone()[0] == 150
    assert status["added"] == 0 and status["updated"] == 300


def test_interrupted_sync_resumes_without_refetching_done_pages(conn, fake, client):
    fill(fake, 2500)

    def break_after_page_9(status):
        if status["page"] == 9:
            fake.fail(500, PAGES_PATH, times=-1)

    with pytest.raises(DiscogsUnavailable):
        sync.run_sync(conn, client, fake.username, on_progress=break_after_page_9)
    status = sync.sync_status(conn)
    assert status["state"] == "interrupted" and status["page"] == 9 and "HTTP 500" in status["error"]
    assert album_count(conn) == 900

    fake.clear_failures()
    before = len(fake.pages_requested())
    status = sync.run_sync(conn, client, fake.username)
    assert fake.pages_requested()[before:] == list(range(10, 26))
    assert status["state"] == "done" and album_count(conn) == 2500 and status["removed"] == 0


def test_removals_only_after_a_complete_pass(conn, fake, client):
    fill(fake, 300)
    sync.run_sync(conn, client, fake.username)
    gone = {fake.items[i]["instance_id"] for i in (0, 150, 299)}
    fake.delete_items(gone)

    fake.fail(500, PAGES_PATH, times=-1)
    with pytest.raises(DiscogsUnavailable):
        sync.run_sync(conn, client, fake.username)
    assert album_count(conn) == 300  # nothing removed by an incomplete run

    fake.clear_failures()
    status = sync.run_sync(conn, client, fake.username)
    assert status["removed"] == 3 and album_count(conn) == 297
    assert all(collection.get_album(conn, i) is None for i in gone)


def test_removals_wait_when_the_run_saw_fewer_copies_than_reported(conn, fake, client):
    fill(fake, 250)
    sync.run_sync(conn, client, fake.username)

    def delete_early_copies(status):
        if status["page"] == 1:  # items shift left: one copy moves into the page already read
            fake.delete_items({fake.items[0]["instance_id"]})

    status = sync.run_sync(conn, client, fake.username, on_progress=delete_early_copies)
    assert status["removed"] == 0 and "removals wait" in status["error"]
    assert album_count(conn) == 250
    status = sync.run_sync(conn, client, fake.username)
    assert status["removed"] == 1 and album_count(conn) == 249


def test_every_recorded_shape_maps(fake):
    for n, item in enumerate(fake.templates):
        record = sync.map_collection_item(
            {**item, "instance_id": n + 1}, fields={1: "Media", 2: "Sleeve", 3: "Notes"}, folders={1: "Uncategorized"}
        )
        assert record is not None and record.title and record.artist
        assert "spacer.gif" not in record.thumb_url
    by_title = {t["basic_information"]["title"]: t for t in fake.templates}
    kd = sync.map_collection_item(by_title["The K&D Sessions\u2122"])
    assert kd.formats == ["5 x Vinyl, LP, Compilation, Reissue, Remastered, Trifold Cover, 180 g"]
    assert kd.date_added == "2015-04-14T03:23:29-07:00" and kd.styles == ["Downtempo", "Dub", "Trip Hop"]
    chase = sync.map_collection_item(by_title["Information Chase"])
    assert chase.notes == "bleep bloop blorp." and chase.media_condition == ""
    spacer = [t for t in fake.templates if t["basic_information"].get("thumb", "").endswith("spacer.gif")]
    assert spacer and sync.map_collection_item(spacer[0]).thumb_url == ""
    assert sync.map_collection_item({"basic_information": {}}) is None  # no instance_id


def test_custom_field_notes_map_to_conditions(conn, fake, client):
    fill(fake, 8)
    sync.run_sync(conn, client, fake.username)
    album = collection.get_album(conn, fake.items[7]["instance_id"])
    assert album.media_condition == "Very Good Plus (VG+)"
    assert album.sleeve_condition == "Near Mint (NM or M-)"
    assert album.custom_fields == {"Originally from": "Record fair"}


def test_pacing_slows_down_as_remaining_approaches_zero(fake, client, sleeps):
    fake.remaining = 40
    client.check_token()
    client.check_token()
    assert sleeps == []
    fake.remaining = 2
    client.check_token()  # learns that 2 are left...
    client.check_token()  # ...so this one waits first
    assert sleeps == [pytest.approx(8.0)]  # (10 - 2) x 60/60 s


def test_429_without_retry_after_backs_off_with_full_jitter(fake, client, sleeps):
    fake.fail(429, "/oauth/identity", times=2)
    assert client.check_token() == fake.username
    assert fake.count("/oauth/identity") == 3
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0


def test_persistent_5xx_gives_up_with_unavailable(fake, client):
    fake.fail(503, "/oauth/identity", times=-1)
    with pytest.raises(DiscogsUnavailable, match="HTTP 503 after 4 attempts"):
        client.check_token()
    assert fake.count("/oauth/identity") == 4


def test_bad_token_is_an_auth_error_that_never_shows_the_token(conn, fake, caplog):
    secret = "wrong-secret-token-xyz"
    bad = DiscogsClient(fake.url, secret, "VinylVaultTests/1.0", min_interval=0.0, sleep=lambda s: None)
    fill(fake, 5)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(DiscogsAuthError) as info:
            sync.run_sync(conn, bad, fake.username)
    assert secret not in str(info.value) and secret not in repr(bad) and secret not in caplog.text
    status = sync.sync_status(conn)
    assert status["state"] == "failed" and secret not in str(status)
    headers = fake.log[-1][2]
    assert headers["Authorization"] == f"Discogs token={secret}" and headers["User-Agent"]


def test_one_sync_at_a_time(conn, fake, client):
    fill(fake, 5)
    sync._acquire_lease(conn, "another-process")
    with pytest.raises(sync.SyncBusy):
        sync.run_sync(conn, client, fake.username)
    sync._release_lease(conn, "another-process")
    assert sync.run_sync(conn, client, fake.username)["state"] == "done"


def test_new_covers_are_queued(conn, fake, client):
    fill(fake, 9)
    queued: list[str] = []
    sync.run_sync(conn, client, fake.username, queue_covers=queued.extend)
    assert queued and set(queued) <= set(collection.all_cover_urls(conn))
    queued.clear()
    sync.run_sync(conn, client, fake.username, queue_covers=queued.extend)
    assert queued == []  # nothing new


def test_release_details_are_fetched_stored_and_searchable(conn, fake, client):
    fill(fake, 4)
    sync.run_sync(conn, client, fake.username)
    release_id = fake.items[0]["id"]
    template = fake.release_templates[release_id % len(fake.release_templates)]
    details = sync.fetch_release_details(conn, client, release_id)
    assert details.tracklist and details.tracklist[0].title == template["tracklist"][0]["title"]
    assert collection.get_release_details(conn, release_id) == details
    word = details.tracklist[0].title.split()[0]
    hits = collection.search(conn, word).albums
    assert {a.release_id for a in hits} >= {release_id}


def test_release_image_prefers_primary_else_first(fake):
    one, seventy_nine = fake.release_templates[0], fake.release_templates[1]
    assert sync.map_release(one, fake.url).image_url == fake.url + "/image/R-1-1193812031.jpeg"
    only_secondary = sync.map_release(seventy_nine, fake.url)
    assert only_secondary.images[0]["type"] == "secondary"
    assert only_secondary.image_url == only_secondary.images[0]["uri"]


def test_missing_release_is_not_found(fake, client):
    with pytest.raises(DiscogsNotFound):
        client.release(999)


def test_sync_once_needs_credentials(settings):
    from vinylvault import db

    db.initialize(settings.DATABASE_PATH)
    with pytest.raises(sync.SyncNotConfigured):
        sync.sync_once(settings)


def test_sync_once_with_credentials_saved_at_setup(settings, fake):
    from vinylvault import db

    fill(fake, 120)
    db.initialize(settings.DATABASE_PATH)
    conn = db.connect(settings.DATABASE_PATH)
    collection.set_setting(conn, sync.USERNAME_KEY, fake.username)
    collection.set_setting(conn, sync.TOKEN_KEY, fake.token)
    status = sync.sync_once(settings)
    assert status["state"] == "done" and album_count(conn) == 120
    conn.close()


# --- Covers for copies without one (CSV imports) -----------------------------------------------


def csv_copy(album_id: int, release_id: int, **fields) -> collection.AlbumRecord:
    return collection.AlbumRecord(
        id=-album_id,
        source="csv",
        release_id=release_id,
        artist=f"Artist {album_id}",
        title=f"Title {album_id}",
        **fields,
    )


def store(conn, *records) -> None:
    with collection.write_transaction(conn):
        for record in records:
            collection.save_album(conn, record)


def release_requests(fake) -> int:
    return fake.count("/releases/") - fake.count(PAGES_PATH + "/")


def test_opening_a_release_gives_its_cover_to_copies_without_one(conn, fake, client):
    fill(fake, 4)
    primary_release, secondary_only = fake.items[0]["id"], fake.items[2]["id"]
    store(
        conn,
        csv_copy(1, primary_release),
        csv_copy(2, primary_release, cover_url="https://mine/own.jpg"),
        csv_copy(3, secondary_only),
    )
    sync.fetch_release_details(conn, client, primary_release)
    sync.fetch_release_details(conn, client, secondary_only)
    first = collection.get_album(conn, -1)
    assert first.cover_url == fake.url + "/image/R-1-1193812031.jpeg"  # the primary image, made absolute
    assert first.thumb_url.startswith(fake.url) and first.thumb_url != first.cover_url
    assert collection.get_album(conn, -2).cover_url == "https://mine/own.jpg"  # a cover is never replaced
    assert collection.get_album(conn, -3).cover_url == fake.url + "/image/R-79-1104723687.jpg"  # else the first


def test_cover_pass_is_bounded_resumable_and_asks_each_release_once(conn, fake, client):
    fill(fake, 12)  # releases 5_000_000 .. 5_000_005
    releases = sorted({item["id"] for item in fake.items})
    store(
        conn,
        *[csv_copy(n, release_id) for n, release_id in enumerate(releases, 1)],
        csv_copy(50, 4_242_424),  # Discogs does not know it: stored empty, not asked again
        csv_copy(51, 0),
        csv_copy(52, -3),
    )  # no release to ask for (CSV without id, demo)
    first = sync.fill_missing_covers(conn, client, limit=4)
    assert (first.fetched, first.remaining) == (4, 3) and release_requests(fake) == 4
    store(conn, csv_copy(60, releases[0]))  # a second copy of a release already fetched
    second = sync.fill_missing_covers(conn, client, limit=4)
    assert (second.from_stored, second.fetched, second.remaining) == (1, 3, 0) and release_requests(fake) == 7
    third = sync.fill_missing_covers(conn, client, limit=4)
    assert (third.from_stored, third.fetched, third.remaining) == (0, 0, 0) and release_requests(fake) == 7
    assert all(collection.get_album(conn, -n).cover_url for n in range(1, len(releases) + 1))
    assert collection.get_album(conn, -60).cover_url == collection.get_album(conn, -1).cover_url
    assert not sync.missing_covers(conn)


def test_cover_pass_stops_early_on_discogs_failures_and_resumes(conn, fake, client):
    fill(fake, 6)
    store(conn, *[csv_copy(n, item["id"]) for n, item in enumerate(fake.items[::2], 1)])
    fake.fail(500, "/releases/", times=-1)
    result = sync.fill_missing_covers(conn, client, limit=10)
    assert (result.fetched, result.remaining) == (0, 3)
    fake.clear_failures()
    assert sync.fill_missing_covers(conn, client, limit=10).remaining == 0


def test_cover_pass_once_needs_a_token_and_holds_the_sync_lease(settings, fake):
    fill(fake, 2)
    db.initialize(settings.DATABASE_PATH)
    conn = db.connect(settings.DATABASE_PATH)
    try:
        store(conn, csv_copy(1, fake.items[0]["id"]))
        assert sync.cover_pass_once(settings) is None  # no token: nothing asked
        collection.set_setting(conn, sync.TOKEN_KEY, fake.token)
        sync._acquire_lease(conn, "a-sync-elsewhere")
        with pytest.raises(sync.SyncBusy):
            sync.cover_pass_once(settings)
        sync._release_lease(conn, "a-sync-elsewhere")
        result = sync.cover_pass_once(settings)
        assert (result.fetched, result.remaining) == (1, 0) and collection.get_album(conn, -1).cover_url
        assert release_requests(fake) == 1
        assert sync.sync_status(conn)["state"] == "idle"  # a cover pass is not a sync
    finally:
        conn.close()

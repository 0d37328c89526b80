"""The wantlist, the collection value and master ids through a real sync against the fake Discogs API."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from vinylvault.library import collection, sync
from vinylvault.library.discogs import DiscogsUnavailable
from vinylvault.site import pages

PAGES_PATH = "/collection/folders/0/releases"
WANTS_PATH = "/wants"
VALUE_PATH = "/collection/value"


def fill(fake, items: int, wants: int) -> None:
    fake.items = [fake.make_item(i) for i in range(items)]
    fake.wants = [fake.make_want(i) for i in range(wants)]


def rows(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_full_sync_costs_collection_pages_wants_pages_value_and_two_lists(conn, fake, client):
    fill(fake, 250, 130)
    status = sync.run_sync(conn, client, fake.username)
    assert status["state"] == "done"
    assert fake.count(PAGES_PATH) == math.ceil(250 / 100) == 3
    assert fake.count(WANTS_PATH) == math.ceil(130 / 100) == 2
    assert fake.count(VALUE_PATH) == 1
    assert fake.count("/releases/") == 0  # no release is fetched by a sync
    assert fake.count() == 3 + 2 + 1 + 2  # + folders and fields
    assert rows(conn, "albums") == 250 and rows(conn, "wants") == 130


def test_the_status_follows_the_wantlist_after_the_collection(conn, fake, client):
    fill(fake, 250, 350)
    seen = []  # the status each time a page's new covers are queued, mid-run
    sync.run_sync(conn, client, fake.username, queue_covers=lambda _urls: seen.append(sync.sync_status(conn)))
    steps = [(s["phase"], s["page"], s["wants_page"], s["wants_pages"], s["percent"]) for s in seen]
    assert steps == [
        ("collection", 1, 0, 1, 25.0),  # the wantlist's size is not known yet: one page at least
        ("collection", 2, 0, 1, 50.0),
        ("wantlist", 3, 0, 1, 75.0),
        ("wantlist", 3, 1, 4, 57.1),  # its first page says there are four
        ("wantlist", 3, 2, 4, 71.4),
        ("wantlist", 3, 3, 4, 85.7),
        ("wantlist", 3, 4, 4, 100.0),
    ]
    assert pages.SYNC_MESSAGES["running wantlist"].format(**seen[4]) == (
        "Syncing the wantlist: page 2 of 4 (the collection's 250 items are in)."
    )
    assert sync.sync_status(conn)["percent"] == 100.0


def test_an_empty_wantlist_costs_one_call(conn, fake, client):
    fill(fake, 5, 0)
    sync.run_sync(conn, client, fake.username)
    assert fake.count(WANTS_PATH) == 1 and rows(conn, "wants") == 0


def test_wants_map_master_ids_notes_and_covers(conn, fake, client):
    fill(fake, 20, 12)
    queued: list[str] = []
    sync.run_sync(conn, client, fake.username, queue_covers=queued.extend)
    page = collection.list_wants(conn, limit=100)
    assert page.total == 12
    want = next(w for w in page.albums if w.release_id == 6_000_000)
    assert want.master_id == 52323 and want.notes == "Only the first pressing"
    assert collection.get_album(conn, 100_000).master_id == 52323  # item 0 shares the master
    want_covers = {w.cover_url or w.thumb_url for w in page.albums} - {""}
    assert want_covers and want_covers <= set(queued)
    assert want_covers <= set(collection.all_cover_urls(conn))  # the orphan clean-up keeps them


def test_wants_removed_on_discogs_go_after_a_complete_pass(conn, fake, client):
    fill(fake, 3, 150)
    sync.run_sync(conn, client, fake.username)
    fake.wants = fake.wants[:40]
    sync.run_sync(conn, client, fake.username)
    assert rows(conn, "wants") == 40


def test_an_interrupted_wantlist_resumes_without_refetching_stored_pages(conn, fake, client):
    fill(fake, 250, 350)

    fake.fail(500, WANTS_PATH, times=-1)
    with pytest.raises(DiscogsUnavailable):
        sync.run_sync(conn, client, fake.username)
    assert sync.sync_status(conn)["state"] == "interrupted"
    fake.clear_failures()
    before_pages, before_lists = fake.count(PAGES_PATH), fake.count("/collection/f")
    status = sync.run_sync(conn, client, fake.username)
    assert status["state"] == "done" and rows(conn, "wants") == 350
    assert fake.count(PAGES_PATH) == before_pages  # the collection was not read again
    assert fake.count("/collection/f") == before_lists  # nor the folder and field lists


def test_a_refused_wantlist_or_value_does_not_fail_the_sync(conn, fake, client):
    fill(fake, 5, 5)
    sync.run_sync(conn, client, fake.username)
    fake.fail(403, WANTS_PATH, times=1)
    fake.fail(403, VALUE_PATH, times=1)
    status = sync.run_sync(conn, client, fake.username)
    assert status["state"] == "done" and status["error"] is None
    assert rows(conn, "wants") == 5  # kept as they were
    assert rows(conn, "collection_value") == 1  # the refused value added nothing


def test_each_sync_keeps_a_new_value_snapshot_and_never_overwrites(conn, fake, client):
    fill(fake, 5, 0)
    sync.run_sync(conn, client, fake.username)
    fake.value = {"minimum": "€1.234,56", "median": "€2.000,00", "maximum": "€3.210,99"}
    sync.run_sync(conn, client, fake.username)
    history = collection.value_history(conn)
    assert [s.median for s in history] == ["€2,000.00", "€2.000,00"]
    assert [s.amounts for s in history] == [(Decimal("1234.56"), Decimal("2000.00"), Decimal("3210.99"))] * 2
    assert {s.currency for s in history} == {"€"}


@pytest.mark.parametrize(
    "text, currency, amount",
    [
        ("€1,234.56", "€", "1234.56"),
        ("$12.00", "$", "12.00"),
        ("€12,34", "€", "12.34"),
        ("1.234,56 €", "€", "1234.56"),
        ("CA$1,234,567.89", "CA$", "1234567.89"),
        ("1 234,56 SEK", "SEK", "1234.56"),
        ("¥1234", "¥", "1234"),
        ("£1,234,567", "£", "1234567"),
    ],
)
def test_money_strings_with_one_reading_are_parsed(text, currency, amount):
    assert collection.parse_money(text) == collection.Money(currency, Decimal(amount))


@pytest.mark.parametrize("text", ["£1,234", "€1.234", "12.00", "$1,2,3", "", "abc", "$1.234.567,8,9", "1,234.56"])
def test_money_strings_that_need_a_guess_are_refused(text):
    with pytest.raises(collection.MoneyFormatError):
        collection.parse_money(text)


def test_an_ambiguous_snapshot_is_kept_raw_and_says_why(conn):
    with collection.write_transaction(conn):
        assert collection.save_value_snapshot(conn, {"minimum": "£1,234", "median": "£1,500", "maximum": "£2,000"})
        assert not collection.save_value_snapshot(conn, {"minimum": 1})
    [snapshot] = collection.value_history(conn)
    assert snapshot.median == "£1,500" and snapshot.amounts is None
    assert "thousands or decimals" in snapshot.problem


def test_a_wantlist_that_shrank_under_a_resumed_run_keeps_its_wants_until_a_full_pass(conn, fake, client):
    fill(fake, 3, 250)
    sync.run_sync(conn, client, fake.username)
    # As if the run had stopped after the first wantlist page, and 200 wants went meanwhile.
    conn.execute("UPDATE sync_state SET state = 'interrupted', wants_page = 1")
    fake.wants = fake.wants[:50]
    status = sync.run_sync(conn, client, fake.username)
    assert status["state"] == "done" and rows(conn, "wants") == 250  # page 2 is gone: nothing removed
    sync.run_sync(conn, client, fake.username)
    assert rows(conn, "wants") == 50

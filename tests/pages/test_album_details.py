"""The album page asks Discogs for a release's tracklist in the background, on the app's details queue."""

from __future__ import annotations

import time
from typing import Callable

from flask import Flask

from tests.support.albums import fill
from tests.support.fake_discogs import TOKEN, USERNAME, FakeDiscogs
from tests.support.owner import set_owner_password
from vinylvault import lifecycle
from vinylvault.library.collection import AlbumRecord
from vinylvault.site import pages

FETCHING = "Fetching the tracklist from Discogs"


def test_the_tracklist_is_fetched_off_the_request_and_shown_on_the_next_visit(
    make_page_app: Callable[..., Flask], discogs_corpus_dir
):
    with FakeDiscogs(discogs_corpus_dir, items=1) as fake:
        app = make_page_app(DISCOGS_API_URL=fake.url, DISCOGS_USERNAME=USERNAME, DISCOGS_TOKEN=TOKEN)
        set_owner_password(app)
        release = fake.items[0]["id"]
        fill(app, [AlbumRecord(id=41, source="discogs", release_id=release, artist="Someone", title="Something")])
        guest = app.test_client()
        assert FETCHING in guest.get("/album/41").get_data(as_text=True)
        queue = app.extensions[pages.DETAILS]
        deadline = time.monotonic() + 60  # a bound on the wait, not a timing assertion
        while queue.pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        page = guest.get("/album/41").get_data(as_text=True)
        assert FETCHING not in page and '<ol class="tracklist">' in page
        assert fake.count(f"/releases/{release}") == 1
        lifecycle.shutdown(app)
        assert not queue.submit(release + 1, lambda: None)  # stopped with its app: it takes no more work

"""Spin, flip and stop as plain forms (no JavaScript), the server-side turntable, history and stats."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.support.owner import form_csrf
from tests.support.spins import KOB_ID, shift_spin
from vinylvault import db
from vinylvault.listening import spins


def _spin(client: FlaskClient, album_id: int = KOB_ID, side: str = "0"):
    token = form_csrf(client, f"/album/{album_id}")
    return client.post(f"/spinning/start/{album_id}", data={"csrf_token": token, "side": side})


def _post(client: FlaskClient, path: str):
    return client.post(path, data={"csrf_token": form_csrf(client, f"/album/{KOB_ID}")})


def _states(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return [tuple(r) for r in db.get_db().execute("SELECT side, state FROM spins ORDER BY id")]


def test_album_page_offers_one_spin_button_per_side(owner: FlaskClient):
    html = owner.get(f"/album/{KOB_ID}").get_data(as_text=True)
    assert re.findall(r'name="side" value="(\d)"', html) == ["0", "1"]
    assert "Spin A" in html and "Spin B" in html


def test_now_playing_offers_the_owner_the_sides_and_a_guest_nothing_to_press(spin_app: Flask, owner: FlaskClient):
    html = owner.get(f"/now-playing/{KOB_ID}").get_data(as_text=True)
    assert re.findall(r'name="side" value="(\d)"', html) == ["0", "1"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = owner.post(f"/spinning/start/{KOB_ID}", data={"csrf_token": token, "side": "1"})
    assert response.status_code == 303 and _states(spin_app) == [("B", "playing")]
    guest = spin_app.test_client().get(f"/now-playing/{KOB_ID}").get_data(as_text=True)
    assert "spin-form" not in guest and 'name="side"' not in guest


def test_a_record_moves_through_both_sides_without_javascript(spin_app: Flask, owner: FlaskClient):
    response = _spin(owner)
    assert response.status_code == 303 and response.headers["Location"].endswith("/spinning")
    page = owner.get("/spinning").get_data(as_text=True)
    assert "Side A" in page and 'class="is-current" aria-current="true"' in page and "So What" in page
    assert re.search(r"24:4[345] left", page) and "Flip to Side B" in page
    shift_spin(spin_app, 9 * 60 + 22 + 60)  # a minute into Freddie Freeloader
    page = owner.get("/spinning").get_data(as_text=True)
    current = re.search(r'class="is-current"[^>]*>\s*<span class="spinning__pos">(\w+)', page).group(1)
    assert current == "A2" and re.search(r"14:2[123] left", page)
    shift_spin(spin_app, 30 * 60)
    assert "side over" in owner.get("/spinning").get_data(as_text=True)
    assert _post(owner, "/spinning/flip").status_code == 303
    page = owner.get("/spinning").get_data(as_text=True)
    assert "Side B" in page and "All Blues" in page and ">Done<" in page
    assert _post(owner, "/spinning/flip").status_code == 303
    page = owner.get("/spinning").get_data(as_text=True)
    assert "Nothing on the turntable" in page and "the record is done" in page
    assert _states(spin_app) == [("A", "ended"), ("B", "abandoned")]
    with spin_app.app_context():
        assert db.get_db().execute("SELECT play_count FROM albums WHERE id = ?", (KOB_ID,)).fetchone()[0] == 1


def test_stop_and_a_new_record_take_the_side_off(spin_app: Flask, owner: FlaskClient):
    _spin(owner)
    _spin(owner, 12)
    assert _states(spin_app) == [("A", "abandoned"), ("", "playing")]
    page = owner.get("/spinning").get_data(as_text=True)
    assert "Homogenic" in page and "No tracklist for this record" in page
    assert _post(owner, "/spinning/stop").status_code == 303
    assert _states(spin_app) == [("A", "abandoned"), ("", "ended")]


def test_every_device_sees_the_same_turntable(spin_app: Flask, owner: FlaskClient):
    _spin(owner)
    phone = spin_app.test_client()
    assert "Kind of Blue" in phone.get("/spinning").get_data(as_text=True)
    state = phone.get("/spinning/state").get_json()
    with spin_app.app_context():
        assert state["spin"] == spins.current(db.get_db()).id and state["side"] == "A"


def test_guests_see_the_record_but_cannot_spin_flip_or_stop(spin_app: Flask, owner: FlaskClient):
    _spin(owner)
    guest = spin_app.test_client()
    page = guest.get("/spinning").get_data(as_text=True)
    assert "Kind of Blue" in page and "/spinning/flip" not in page
    token = form_csrf(guest, "/login")
    for path in ("/spinning/flip", "/spinning/stop", f"/spinning/start/{KOB_ID}"):
        response = guest.post(path, data={"csrf_token": token})
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert guest.get("/history").status_code == 302
    assert _states(spin_app) == [("A", "playing")]


def test_forms_need_the_csrf_token(spin_app: Flask, owner: FlaskClient):
    owner.get("/spinning")
    assert owner.post(f"/spinning/start/{KOB_ID}", data={"side": "0"}).status_code == 403
    assert _states(spin_app) == []


def test_bad_sides_and_albums_are_refused(owner: FlaskClient):
    assert _spin(owner, side="2").status_code == 400
    assert _spin(owner, side="x").status_code == 400
    token = form_csrf(owner, f"/album/{KOB_ID}")
    assert owner.post("/spinning/start/999", data={"csrf_token": token, "side": "0"}).status_code == 404
    assert owner.post("/spinning/flip", data={"csrf_token": token}).status_code == 409


def test_history_lists_newest_first_and_filters(spin_app: Flask, owner: FlaskClient):
    _spin(owner)
    shift_spin(spin_app, 3600)
    _spin(owner, 12)
    page = owner.get("/history").get_data(as_text=True)
    assert page.index("Homogenic") < page.index("Kind of Blue") and "2 sides played" in page
    assert "Homogenic" not in owner.get("/history?artist=miles davis").get_data(as_text=True)
    assert "Kind of Blue" not in owner.get("/history?album=12").get_data(as_text=True)
    assert "0 sides played" in owner.get("/history?month=2001-01").get_data(as_text=True)
    assert owner.get("/history?month=2001-13").status_code == 400
    assert owner.get("/history?album=x").status_code == 400


def test_stats_show_listening(spin_app: Flask, owner: FlaskClient):
    _spin(owner)
    page = owner.get("/stats").get_data(as_text=True)
    assert 'id="chart-spins"' in page and "Most played albums" in page and "Dust collectors" in page
    assert "25% of the collection played this year (1 of 4 albums)" in page
    dust = page[page.index("Dust collectors") :]
    assert "never played" in dust and "Kind of Blue" not in dust.split("</section>")[0]
    assert "Listening" not in spin_app.test_client().get("/stats").get_data(as_text=True)


def test_the_grid_offers_the_owner_one_tap_spins(spin_app: Flask, owner: FlaskClient):
    grid = owner.get("/").get_data(as_text=True)
    assert grid.count('class="card__spin"') == 4 and f'action="/spinning/start/{KOB_ID}"' in grid
    token = re.search(r'class="card__spin"[^>]*><input type="hidden" name="csrf_token" value="([^"]+)"', grid).group(1)
    response = owner.post(f"/spinning/start/{KOB_ID}", data={"csrf_token": token, "side": "0"})
    assert response.status_code == 303 and _states(spin_app) == [("A", "playing")]
    assert "card__spin" not in spin_app.test_client().get("/").get_data(as_text=True)


def test_odd_side_and_album_numbers_are_400s(owner: FlaskClient):
    assert _spin(owner, side="²").status_code == 400  # a digit to str.isdigit, not to int()
    assert owner.get(f"/history?album={2**70}").status_code == 400

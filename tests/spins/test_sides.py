"""Sides from tracklist positions, and the needle from the durations."""

from __future__ import annotations

from vinylvault.library.collection import Track
from vinylvault.listening.spins import Side, SideTrack, needle, parse_duration, side_name, sides_of


def _t(position: str, title: str = "t", duration: str = "3:00", kind: str = "track") -> Track:
    return Track(position, title, duration, kind)


def test_vinyl_sides_come_from_the_position_letters():
    sides = sides_of([_t("A1"), _t("A2"), _t("B1"), _t("B2"), _t("C"), _t("D1")], 240)
    assert [s.name for s in sides] == ["A", "B", "C", "D"]
    assert [len(s.tracks) for s in sides] == [2, 2, 1, 1]
    assert sides[0].label == "Side A" and sides[0].seconds == 360


def test_cd_positions_make_discs_and_plain_numbers_one_side():
    assert [s.name for s in sides_of([_t("1-1"), _t("1-2"), _t("2-1")], 240)] == ["Disc 1", "Disc 2"]
    plain = sides_of([_t("1"), _t("2"), _t("3")], 240)
    assert [s.name for s in plain] == [""] and plain[0].label == "The record" and len(plain[0].tracks) == 3


def test_headings_are_skipped_and_index_tracks_play_as_one():
    sides = sides_of(
        [
            _t("", "Side One", "", "heading"),
            _t("A1"),
            _t("A2", "Suite", "12:00", "index"),
            _t("", "Side Two", "", "heading"),
            _t("B1"),
        ],
        240,
    )
    assert [(s.name, [t.title for t in s.tracks]) for s in sides] == [("A", ["t", "Suite"]), ("B", ["t"])]
    assert sides[0].tracks[1].seconds == 720


def test_no_tracklist_is_one_side_without_tracks():
    assert sides_of([], 240) == [Side("", ())]


def test_unknown_durations_take_the_assumed_length():
    side = sides_of([_t("A1", duration=""), _t("A2", duration="2:30")], 200)[0]
    assert [(t.seconds, t.known) for t in side.tracks] == [(200, False), (150, True)]


def test_side_names_and_durations():
    assert [side_name(p) for p in ("A1", "b2", "AA", "CD2-3", "3", "")] == ["A", "B", "AA", "Disc 2", None, None]
    assert [parse_duration(d) for d in ("3:45", "1:02:03", "", "abc", "0:07")] == [225, 3723, None, None, 7]


def test_the_needle_moves_through_the_side():
    side = Side("A", (SideTrack("A1", "one", 100, True), SideTrack("A2", "two", 50, True)))
    assert needle(side, 1000, 1000) == needle(side, 1000, 990)  # before the start: the first track
    first = needle(side, 1000, 1030)
    assert (first.track_index, first.track_elapsed, first.left, first.over) == (0, 30, 120, False)
    second = needle(side, 1000, 1120)
    assert (second.track_index, second.track_elapsed, second.left) == (1, 20, 30)
    done = needle(side, 1000, 1150)
    assert (done.track_index, done.left, done.over) == (None, 0, True)

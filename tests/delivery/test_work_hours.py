"""Work hours in the reviewer's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.delivery.work_hours import next_work_start, reviewer_zone

HOURS = (9, 18)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_inside_work_hours_nothing_waits():
    assert next_work_start(at("2026-01-05T09:00"), reviewer_zone("Europe/London", 0), HOURS) is None


def test_a_night_owl_message_waits_for_the_reviewers_morning():
    zone = reviewer_zone("America/Los_Angeles", -28800)
    # 09:00 UTC is 01:00 in Los Angeles: wait until 09:00 there, 17:00 UTC.
    assert next_work_start(at("2026-01-05T09:00"), zone, HOURS) == at("2026-01-05T17:00")
    # 03:00 UTC (19:00 the evening before there): the next morning, not the same evening.
    assert next_work_start(at("2026-01-06T03:00"), zone, HOURS) == at("2026-01-06T17:00")


def test_daylight_saving_is_followed_through_the_named_zone():
    zone = reviewer_zone("Europe/Berlin", 3600)
    # In July Berlin is UTC+2: 09:00 local is 07:00 UTC.
    assert next_work_start(at("2026-07-06T05:00"), zone, HOURS) == at("2026-07-06T07:00")


def test_the_offset_is_the_fallback_for_an_unknown_zone_name():
    zone = reviewer_zone("Mars/Olympus_Mons", 19800)  # +05:30
    assert next_work_start(at("2026-01-05T00:00"), zone, HOURS) == at("2026-01-05T03:30")


def test_unknown_time_zone_never_holds_a_message():
    assert next_work_start(at("2026-01-05T02:00"), reviewer_zone(None, None), HOURS) is None


def test_work_hours_across_midnight():
    zone = reviewer_zone("UTC", 0)
    night_shift = (22, 6)
    assert next_work_start(at("2026-01-05T23:00"), zone, night_shift) is None
    assert next_work_start(at("2026-01-05T12:00"), zone, night_shift) == at("2026-01-05T22:00")

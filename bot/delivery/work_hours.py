"""Work hours in each reviewer's own time zone, so nobody is pinged at night.

The time zone comes from Slack's users.info (`tz`, `tz_offset`) and is cached on the
Reviewer row. A named zone is preferred (it knows daylight saving); the fixed offset is
the fallback. A message that would arrive outside the person's hours is not dropped:
it stays in the outbox, due when their day starts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TZ_REFRESH = timedelta(days=7)  # people move; users.info is cheap (Tier 4)


def reviewer_zone(tz: str | None, tz_offset_s: int | None) -> tzinfo | None:
    if tz:
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if tz_offset_s is not None:
        return timezone(timedelta(seconds=tz_offset_s))
    return None


def within_hours(hour: int, hours: tuple[int, int]) -> bool:
    start, end = hours
    if start == end:
        return True  # a 24-hour day
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end  # a span across midnight, e.g. (22, 6)


def next_work_start(now: datetime, zone: tzinfo | None, hours: tuple[int, int]) -> datetime | None:
    """None when `now` is inside the person's work hours (or their zone is unknown);
    otherwise the UTC time their next work day starts."""
    if zone is None:
        return None
    local = now.astimezone(zone)
    if within_hours(local.hour, hours):
        return None
    start = local.replace(hour=hours[0], minute=0, second=0, microsecond=0)
    if start <= local:
        start += timedelta(days=1)  # wall-clock arithmetic: 09:00 stays 09:00 across DST
    return start.astimezone(UTC)

"""Places that accounts claim in their profile, and the UTC offset each had at a given time.

A small built-in table of capitals, countries and big cities (weighted to the Sahel and to
the usual suspects of influence operations), mapped to IANA zones so summer time counts.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

HOUR = 3_600

# Places accounts commonly claim, as IANA zones: the offset is taken at the posts' time,
# so summer time counts (Paris is UTC+2 in April).
# fmt: off
PLACE_ZONES: dict[str, str] = {
    "bamako": "Africa/Bamako", "mali": "Africa/Bamako", "dakar": "Africa/Dakar",
    "senegal": "Africa/Dakar", "abidjan": "Africa/Abidjan", "côte d'ivoire": "Africa/Abidjan",
    "ivory coast": "Africa/Abidjan", "ouagadougou": "Africa/Ouagadougou",
    "burkina faso": "Africa/Ouagadougou", "conakry": "Africa/Conakry", "guinea": "Africa/Conakry",
    "nouakchott": "Africa/Nouakchott", "mauritania": "Africa/Nouakchott", "accra": "Africa/Accra",
    "ghana": "Africa/Accra", "niamey": "Africa/Niamey", "niger": "Africa/Niamey",
    "lagos": "Africa/Lagos", "nigeria": "Africa/Lagos", "algiers": "Africa/Algiers",
    "tunis": "Africa/Tunis", "casablanca": "Africa/Casablanca", "rabat": "Africa/Casablanca",
    "kinshasa": "Africa/Kinshasa", "douala": "Africa/Douala", "yaoundé": "Africa/Douala",
    "cameroon": "Africa/Douala", "n'djamena": "Africa/Ndjamena", "chad": "Africa/Ndjamena",
    "cairo": "Africa/Cairo", "egypt": "Africa/Cairo", "johannesburg": "Africa/Johannesburg",
    "tripoli": "Africa/Tripoli", "khartoum": "Africa/Khartoum", "nairobi": "Africa/Nairobi",
    "addis ababa": "Africa/Addis_Ababa", "london": "Europe/London", "lisbon": "Europe/Lisbon",
    "paris": "Europe/Paris", "france": "Europe/Paris", "brussels": "Europe/Brussels",
    "berlin": "Europe/Berlin", "madrid": "Europe/Madrid", "rome": "Europe/Rome",
    "warsaw": "Europe/Warsaw", "kyiv": "Europe/Kyiv", "kiev": "Europe/Kyiv",
    "ukraine": "Europe/Kyiv", "athens": "Europe/Athens", "moscow": "Europe/Moscow",
    "russia": "Europe/Moscow", "saint petersburg": "Europe/Moscow", "minsk": "Europe/Minsk",
    "istanbul": "Europe/Istanbul", "riyadh": "Asia/Riyadh", "tehran": "Asia/Tehran",
    "dubai": "Asia/Dubai", "baku": "Asia/Baku", "karachi": "Asia/Karachi",
    "delhi": "Asia/Kolkata", "new delhi": "Asia/Kolkata", "mumbai": "Asia/Kolkata",
    "india": "Asia/Kolkata", "dhaka": "Asia/Dhaka", "bangkok": "Asia/Bangkok",
    "jakarta": "Asia/Jakarta", "beijing": "Asia/Shanghai", "shanghai": "Asia/Shanghai",
    "china": "Asia/Shanghai", "hong kong": "Asia/Hong_Kong", "manila": "Asia/Manila",
    "singapore": "Asia/Singapore", "tokyo": "Asia/Tokyo", "seoul": "Asia/Seoul",
    "pyongyang": "Asia/Pyongyang", "sydney": "Australia/Sydney", "auckland": "Pacific/Auckland",
    "são paulo": "America/Sao_Paulo", "sao paulo": "America/Sao_Paulo",
    "buenos aires": "America/Argentina/Buenos_Aires", "caracas": "America/Caracas",
    "new york": "America/New_York", "washington": "America/New_York", "miami": "America/New_York",
    "chicago": "America/Chicago", "mexico city": "America/Mexico_City",
    "denver": "America/Denver", "los angeles": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles",
}
# fmt: on


_PLACE_PATTERN = re.compile(
    r"(?<!\w)("
    + "|".join(re.escape(p) for p in sorted(PLACE_ZONES, key=len, reverse=True))
    + r")(?!\w)"
)


@functools.lru_cache(maxsize=4096)
def _place_in(location: str) -> str | None:
    match = _PLACE_PATTERN.search(location.casefold())
    return match.group(1) if match else None


def claimed_offset(location: str | None, at: int | None = None) -> tuple[str, float] | None:
    """(place, UTC offset in hours at epoch ``at``) for the first known place named in a
    free-text location such as "Bamako, Mali"; None when no place is recognised."""
    place = _place_in(location) if location else None
    if place is None:
        return None
    offset = ZoneInfo(PLACE_ZONES[place]).utcoffset(datetime.fromtimestamp(at or 0, UTC))
    return place.title(), (offset.total_seconds() / HOUR if offset is not None else 0.0)

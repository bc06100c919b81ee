"""A user's language and time zone: what every page, email and time is shown in.

The language is one of ``settings.LANGUAGES``; the time zone an IANA name that zoneinfo
knows. Neither is ever trusted as sent: an unknown value falls back to the default
(English, or the zone of the agency's country, else UTC) without an error, so a tampered
cookie or form field can change nothing but the user's own view.
"""

import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from babel.core import get_global
from django.conf import settings
from django.utils import timezone, translation

# Countries spanning several zones default to the zone of their capital (or seat of
# government); a single-zone country uses its only zone (CLDR, through Babel).
CAPITAL_ZONES = {
    "AR": "America/Argentina/Buenos_Aires",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CL": "America/Santiago",
    "CN": "Asia/Shanghai",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "MX": "America/Mexico_City",
    "NZ": "Pacific/Auckland",
    "PT": "Europe/Lisbon",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "US": "America/New_York",
}


@cache
def zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_valid(name: str) -> bool:
    return bool(name) and name in zone_names()


def zone_for_country(country: object) -> str:
    """The default IANA zone of a country (ISO 3166 code), or "UTC"."""
    code = str(country or "").upper()
    if code in CAPITAL_ZONES:
        return CAPITAL_ZONES[code]
    zones = [zone for zone in get_global("territory_zones").get(code, []) if zone_valid(zone)]
    return zones[0] if len(zones) == 1 else "UTC"


def language_valid(code: str) -> bool:
    return code in {language for language, _ in settings.LANGUAGES}


def default_zone(user: Any) -> str:
    """The zone a user sees times in until they choose: their agency's country's, or UTC."""
    if getattr(user, "role", "") == "officer":
        officer = getattr(user, "officer", None)
        if officer is not None:
            return zone_for_country(officer.agency.country)
    return "UTC"


def user_zone(user: Any) -> str:
    """The zone a user sees times in: their own choice, else the default."""
    chosen = getattr(user, "time_zone", "") or ""
    return chosen if zone_valid(chosen) else default_zone(user)


def activate_for(user: Any) -> None:
    """Activate the user's saved language (if they chose one) and their time zone.

    Every page renders times with ``{% when %}``/``{% deadline %}``, which show the active
    zone and its abbreviation; an unknown saved zone falls back to the default.
    """
    language = getattr(user, "language", "") or ""
    if language_valid(language):
        translation.activate(language)
    timezone.activate(zoneinfo.ZoneInfo(user_zone(user)))


def user_language(user: Any) -> str:
    """The language a user reads: their own choice, else the site's default (English)."""
    chosen = getattr(user, "language", "") or ""
    return chosen if language_valid(chosen) else settings.LANGUAGE_CODE


@contextmanager
def recipient_locale(user: Any) -> Iterator[None]:
    """Render what is inside (a mail's subject and body) in the user's language and zone.

    Mails are written for their recipient, not for whoever's request sent them: an
    officer in São Paulo reads a notice in Portuguese with Brasília times even when a
    vetting administrator in Dublin triggered it.
    """
    with translation.override(user_language(user)), timezone.override(user_zone(user)):
        yield


def zone_choices() -> list[tuple[str, str]]:
    """Every zone zoneinfo knows, "Area/City" sorted, for a select."""
    return [
        (name, name.replace("_", " "))
        for name in sorted(zone_names())
        if "/" in name or name == "UTC"
    ]

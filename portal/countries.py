"""Country names in the reader's language, in that language's alphabetical order.

django-countries names the countries (its catalogs, and ``locale_countries`` for the
languages it does not translate, from CLDR: scripts/country_catalogs.py), and sorts them
with a key that keeps only the ASCII letters of a name when pyuca is not installed: every
Hindi name then has the same empty key, and the list stayed in English order. ``name_key``
sorts as ICU's collation for each of the portal's languages does on the country names
(tests/portal/test_countries.py compares the two on every name, with PostgreSQL's ICU
collations): the name's canonical decomposition, compared first without its accents and
the Devanagari nukta (so "Österreich" sorts with the O's and "क़तर" with the क's) and with
spaces and punctuation before letters, then as written.

``country_name`` names one country, kept per code and language: django-countries
translates its whole list to find one name, and a page of rows (the review queue, the
policy tables) names dozens.
"""

import functools
import unicodedata
from typing import Any

from django.conf import settings
from django.utils import translation
from django_countries import countries
from django_countries.fields import Country

# Marks that tell letters apart only at the second level of a collation: the Latin,
# Greek and Cyrillic diacritics, and the Devanagari nukta (क़ is a क for the order).
_NUKTA = "\u093c"


def _secondary(char: str) -> bool:
    return "\u0300" <= char <= "\u036f" or char == _NUKTA


def name_key(name: str) -> tuple[Any, ...]:
    """The sort key of a name, for any of the portal's languages."""
    decomposed = unicodedata.normalize("NFD", str(name))
    primary = tuple(
        # Spaces, punctuation and symbols before letters and digits, as in CLDR's order.
        (0 if unicodedata.category(char)[0] in "PSZ" else 1, char)
        for char in decomposed.casefold()
        if not _secondary(char)
    )
    return (primary, decomposed)


def countries_by_name() -> list[tuple[str, str]]:
    """Every country as ``(code, name)``, named and sorted in the active language."""
    named = [(str(code), str(name)) for code, name in countries]
    return sorted(named, key=lambda country: name_key(country[1]))


@functools.lru_cache(maxsize=2048)
def _name_in(code: str, language: str) -> str:
    with translation.override(language):
        return str(countries.name(code))


def country_name(code: str | Country, language: str | None = None) -> str:
    """A country's name (by its code, or a model's ``Country``) in ``language``, by
    default the active one; ``""`` for a code that is no country."""
    return _name_in(str(code), language or translation.get_language() or settings.LANGUAGE_CODE)

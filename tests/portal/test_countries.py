"""Country names in the reader's language, sorted in that language's order (portal.countries).

django-countries has no Hindi catalog: the Hindi names come from CLDR through
``locale_countries`` (scripts/country_catalogs.py), and the order is ``name_key``'s, which
must be ICU's collation of each language on the whole list (PostgreSQL's ICU collations are
the reference here). The expected names are read from Babel's CLDR data, never typed.
"""

import re

import babel
import pytest
from django.conf import settings
from django.db import connection
from django.utils import translation
from django_countries import countries
from django_countries.fields import Country

from portal import countries as portal_countries
from portal.countries import countries_by_name, country_name, name_key

# PostgreSQL's ICU collation of each language the portal offers.
ICU = {"en": "en-x-icu", "pt-br": "pt-BR-x-icu", "es": "es-x-icu", "fr": "fr-x-icu",
       "de": "de-x-icu", "hi": "hi-x-icu"}  # fmt: skip
HINDI = babel.Locale.parse("hi").territories
# A few countries, the Indian subcontinent's neighbours and those of the portal's demo.
SOME = ("IN", "NP", "BD", "LK", "DE", "FR", "BR", "US", "JP", "ZA")


def test_every_language_of_the_portal_has_an_icu_collation_here() -> None:
    assert {code for code, _ in settings.LANGUAGES} == set(ICU)


@pytest.mark.parametrize("language", sorted(ICU))
def test_the_country_list_is_in_icu_order_for_the_language(postgres, language) -> None:
    with translation.override(language):
        names = [name for _, name in countries_by_name()]
    with connection.cursor() as cursor:
        cursor.execute(
            # The collation's name is one of ICU's fixed keys above, not input.
            f'SELECT name FROM unnest(%s::text[]) AS name ORDER BY name COLLATE "{ICU[language]}"',  # noqa: S608
            [names],
        )
        icu = [row[0] for row in cursor.fetchall()]

    assert len(names) == len(countries.countries)
    assert names == icu


def test_hindi_names_are_cldr_s_and_no_longer_english() -> None:
    with translation.override("hi"):
        named = dict(countries_by_name())
        for code in SOME:
            assert countries.name(code) == HINDI[code]
    assert named == {code: HINDI[code] for code in countries.countries}
    # The order is Hindi's, not the English one django-countries' own key fell back to
    # (it keeps only ASCII letters, so every Hindi name had the same empty key).
    with translation.override("en"):
        english_order = [code for code, _ in countries]
    assert list(named) != english_order


def test_a_name_is_kept_per_language_and_read_in_the_active_one() -> None:
    def uncached(code: str, language: str) -> str:
        with translation.override(language):
            return str(countries.name(code))

    portal_countries._name_in.cache_clear()
    for _ in range(2):  # each name read once, then from the cache
        with translation.override("de"):
            assert country_name("DE") == uncached("DE", "de") == "Deutschland"
        with translation.override("fr"):
            assert country_name("DE") == uncached("DE", "fr") == "Allemagne"
        with translation.override("hi"):
            assert country_name("DE") == HINDI["DE"]
            assert country_name("DE", "de") == "Deutschland"
    assert portal_countries._name_in.cache_info().misses == 3
    # A model's Country names the same; an unknown code has no name.
    with translation.override("fr"):
        assert country_name(Country("DE")) == "Allemagne"
        assert country_name("XX") == ""


def test_the_template_filter_names_a_country_in_the_readers_language() -> None:
    """``{{ country|country_name }}``, which the pages of many rows use (the vetting queue,
    the policy tables), names as django-countries' ``Country.name`` does, code or model."""
    from django.template import Context, Template

    page = Template("{% load portal_countries %}[{{ a|country_name }}|{{ b|country_name }}]")
    for language in ("de", "fr", "hi"):
        with translation.override(language):
            expected = Country("AT").name
            shown = page.render(Context({"a": Country("AT"), "b": "AT"}))
            assert shown == f"[{expected}|{expected}]"
    with translation.override("de"):
        assert page.render(Context({"a": Country("AT"), "b": ""})) == "[Österreich|]"
        assert page.render(Context({"a": None, "b": Country("")})) == "[|]"


def test_the_key_sorts_accents_and_the_nukta_with_their_letter() -> None:
    # Österreich sorts as "osterreich", the umlaut only breaking a tie: after Oman, before
    # Panama (by code points, Ö would come after every Latin letter).
    words = ["Panama", "Österreich", "Oman"]
    assert sorted(words, key=name_key) == ["Oman", "Österreich", "Panama"]
    # क़तर (Qatar) is a क word: after कज़ाखस्तान, before कनाडा (त before न).
    qatar, canada, kazakhstan = HINDI["QA"], HINDI["CA"], HINDI["KZ"]
    assert sorted([canada, qatar, kazakhstan], key=name_key) == [kazakhstan, qatar, canada]


def _options(html: str, name: str) -> list[tuple[str, str]]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, name
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


@pytest.mark.django_db
def test_the_registration_form_offers_the_countries_in_hindi_in_hindi_order(client) -> None:
    html = client.get("/register/", HTTP_ACCEPT_LANGUAGE="hi").content.decode()

    options = [(code, name) for code, name in _options(html, "new_agency_country") if code]
    for code in SOME:
        assert (code, HINDI[code]) in options
    names = [name for _, name in options]
    assert names == sorted(names, key=name_key)
    assert "Germany" not in names

"""The public page /transparency/: open to all, published figures only, usable without script."""

import re

import babel
import pytest

from portal.countries import name_key
from requests_app.transparency.services import snapshot_publish
from tests.factories import make_vetting_admin
from tests.requests_app.factories import make_legal_request
from tests.requests_app.transparency.fixture import AS_OF, PERIOD, at, build_quarter

pytestmark = pytest.mark.django_db


@pytest.fixture
def published():
    quarter = build_quarter()
    snapshot_publish(actor=make_vetting_admin(), period=PERIOD, now=AS_OF)
    return quarter


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_page_needs_no_login_and_says_when_nothing_is_published(client) -> None:
    response = client.get("/transparency/")

    assert response.status_code == 200
    assert "No figures have been published yet" in _text(response)


def test_the_public_navigation_links_to_the_report(client) -> None:
    home = client.get("/").content.decode()

    assert 'href="/transparency/"' in home


def test_the_world_view_shows_the_published_figures(client, published) -> None:
    page = _text(client.get("/transparency/"))

    assert "World: April to June 2026" in page
    assert '<span class="figure">23</span>' in page  # received
    assert "15 properly formed, 8 rejected at intake" in page
    assert '<span class="figure">48.0 hours</span>' in page
    assert '<span class="figure">66.7%</span>' in page
    assert "Germany" in page
    assert "France" in page
    assert "Other countries" in page


def test_a_country_view_shows_that_country_only(client, published) -> None:
    page = _text(client.get("/transparency/?period=2026-Q2&country=FR"))

    assert "France: April to June 2026" in page
    assert '<span class="figure">4</span>' in page  # received: 4 formed, 0 rejected
    assert '<span class="figure">144.0 hours</span>' in page
    assert '<span class="figure">75.0%</span>' in page
    assert "Requests received, by country" not in page


def test_a_country_below_the_threshold_is_not_shown_nor_offered(client, published) -> None:
    world = _text(client.get("/transparency/"))
    luxembourg = _text(client.get("/transparency/?period=2026-Q2&country=LU"))

    assert "Luxembourg" not in world
    assert 'value="LU"' not in world
    assert "No figures are shown for Luxembourg in this period" in luxembourg
    assert '<span class="figure">' not in luxembourg


def test_every_chart_has_a_title_and_a_table_beside_it(client, published) -> None:
    page = client.get("/transparency/").content.decode()
    sections = re.findall(r"<section.*?</section>", page, flags=re.S)
    with_charts = [s for s in sections if "<svg" in s]

    assert len(with_charts) == 3
    for section in with_charts:
        assert re.search(r'<svg[^>]*role="img"[^>]*aria-labelledby="[^"]+"', section)
        assert "<title" in section
        assert "<table>" in section or "<table " in section
        assert "<caption>" in section


def test_the_page_has_no_script_no_inline_style_and_nothing_from_elsewhere(
    client, published
) -> None:
    page = client.get("/transparency/").content.decode()

    assert "<script" not in page
    assert "style=" not in page
    assert "<style" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_unpublished_data_never_reaches_the_public_page(client, published) -> None:
    make_legal_request(
        officer=published.requests["d1"].officer, received_at=at(6, 15), due_at=at(6, 25)
    )
    page = _text(client.get("/transparency/?period=2026-Q2&country=DE"))

    assert '<span class="figure">11</span>' in page  # still 9 formed + 2 rejected
    assert client.get("/transparency/?period=2026-Q3").status_code == 404


def test_the_period_and_country_are_chosen_with_a_plain_get_form(client, published) -> None:
    page = client.get("/transparency/").content.decode()
    form = re.search(r'<form method="get" action="/transparency/".*?</form>', page, flags=re.S)

    assert form is not None
    assert 'name="period"' in form.group(0)
    assert 'name="country"' in form.group(0)
    assert '<option value="2026-Q2" selected>April to June 2026</option>' in form.group(0)
    assert '<option value="DE">Germany</option>' in form.group(0)


def test_an_unknown_country_or_period_is_not_found(client, published) -> None:
    assert client.get("/transparency/?country=XX").status_code == 404
    assert client.get("/transparency/?period=2026-Q5").status_code == 404
    assert client.get("/transparency/?country=other").status_code == 404


def test_a_corrected_period_says_when_and_why(client, published) -> None:
    make_legal_request(
        officer=published.requests["d1"].officer, received_at=at(6, 15), due_at=at(6, 25)
    )
    snapshot_publish(
        actor=make_vetting_admin(), period=PERIOD, reason="A request logged late.", now=AS_OF
    )

    page = _text(client.get("/transparency/?period=2026-Q2&country=DE"))

    assert "Corrected." in page
    assert "A request logged late." in page
    assert "(Changed: World, Germany.)" in page
    assert '<span class="figure">12</span>' in page
    assert page.count("/transparency/versions/") == 4  # two versions, CSV and JSON each


def test_a_hindi_reader_sees_the_countries_named_and_ordered_in_hindi(client, published) -> None:
    """django-countries has no Hindi names: they come from CLDR (locale_countries), and
    the country choice is in Hindi order (Germany before France there, not in English)."""
    hindi = babel.Locale.parse("hi").territories
    page = _text(client.get("/transparency/", HTTP_ACCEPT_LANGUAGE="hi"))

    assert hindi["DE"] in page
    assert hindi["FR"] in page
    assert "Germany" not in page
    assert "France" not in page
    choice = re.search(r'<select name="country"[^>]*>(.*?)</select>', page).group(1)
    named = re.findall(r'<option value="([A-Z]{2})"', choice)
    assert named == sorted(["DE", "FR"], key=lambda code: name_key(hindi[code])) == ["DE", "FR"]
    english = _text(client.get("/transparency/", HTTP_ACCEPT_LANGUAGE="en"))
    choice = re.search(r'<select name="country"[^>]*>(.*?)</select>', english).group(1)
    assert re.findall(r'<option value="([A-Z]{2})"', choice) == ["FR", "DE"]

"""The page shell on a phone (390 px): the header folds into one line that opens without
any script of the page's, nothing scrolls sideways, and the language switcher works."""

import pytest

from tests.factories import make_user

from .conftest import log_in_with_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > innerWidth")


def test_the_header_is_one_line_on_a_phone_and_opens_into_the_menu(page) -> None:
    user = make_user(full_name="Rosa Reviewer")
    log_in_with_totp(page, user)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    header = page.locator("header.site-header")
    assert header.bounding_box()["height"] <= 64
    assert not page.get_by_role("link", name="Review queue").is_visible()
    assert not scrolls_sideways(page)

    page.get_by_text("Menu", exact=True).click()
    assert page.get_by_role("link", name="Review queue").is_visible()
    assert page.get_by_role("button", name="Log out").is_visible()
    assert not scrolls_sideways(page)

    page.get_by_label("Language").select_option("de")
    page.get_by_role("button", name="Change language").click()
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang") == "de"
    assert not scrolls_sideways(page)
    page.watch.assert_clean()


def test_on_a_wide_screen_the_menu_is_open_without_a_summary(page) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/")
    assert page.get_by_role("link", name="Transparency").is_visible()
    assert not page.get_by_text("Menu", exact=True).is_visible()
    header = page.locator("header.site-header")
    assert header.bounding_box()["height"] <= 80
    page.watch.assert_clean()


def test_a_page_without_a_bundle_runs_no_script_at_all(page) -> None:
    """The language switcher and the menu work without a script; only the pages with one of
    the portal's bundles load the catalog (tests/project/test_browser_texts.py)."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    assert page.locator("script").count() == 0
    assert page.evaluate("typeof gettext") == "undefined"
    page.watch.assert_clean()

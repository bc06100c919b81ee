"""The web shell in a real browser: no foreign requests, no CSP violation, login works."""

import pytest

from tests.factories import PASSWORD, make_user, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_public_pages_load_only_same_origin_assets_without_csp_violations(page) -> None:
    for path in ["/", "/login/", "/does-not-exist/"]:
        page.goto(path)
        assert page.locator("h1").count() == 1
    page.watch.console_errors = [e for e in page.watch.console_errors if "404" not in e]
    page.watch.assert_clean()


def test_a_person_logs_in_with_the_keyboard_and_sees_their_name(page) -> None:
    user = make_user(email="rosa@platform.example", full_name="Rosa Reviewer")
    page.goto("/login/")
    page.get_by_label("Email address").fill("rosa@platform.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url("**/login/verify/")
    page.get_by_label("Six-digit code").fill(totp_code(user))
    page.get_by_label("Six-digit code").press("Enter")
    page.wait_for_url("**/")
    assert page.get_by_role("heading", name="Welcome, Rosa Reviewer").is_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")
    page.watch.assert_clean()


def test_the_api_documentation_renders_from_vendored_assets(page) -> None:
    page.goto("/api/v1/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Authority portal API" in page.locator(".swagger-ui .info .title").inner_text()
    page.watch.assert_clean()

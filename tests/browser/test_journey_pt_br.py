"""The whole journey of a Brazilian officer, in Brazilian Portuguese, on a phone (390×844).

The same journey as tests/browser/test_journey.py (registration, mailbox, second factors,
vetting, an age key pair made in the browser, a passkey approved for signing, a request
confirmed with it, two reviewers, delivery, the response opened in the page), by an
officer of the Polícia Federal whose browser asks for pt-BR and who saves Portuguese and
America/Sao_Paulo on the account page. On every page the officer visits:

- nothing scrolls sideways: ``document.documentElement.scrollWidth <= innerWidth``;
- ``<html lang>`` is ``pt-br``;
- every ``<time>`` with a time of day shows it in America/Sao_Paulo: its text holds the
  hour and minute of its ``datetime`` attribute converted with zoneinfo (or, shown as a
  day, that day there); before the zone was saved too, since São Paulo is the default
  zone of a Brazilian agency's officer.

Those three are collected over the whole journey and reported together at the end.

The officer's pages are driven by what does not depend on the language (names, ids,
addresses), so the test keeps working as the catalogs change. The platform's vetting
administrator and reviewers are other people in other browsers, working in English; their
steps are those of the English journey.
"""

import base64
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.cache import cache
from django_otp.oath import totp

from accounts.models import User
from requests_app.delivery.models import SealedResponse
from requests_app.demo_source.directory import platform_file_store
from requests_app.demo_source.models import PlatformAccount, PlatformIpEvent
from requests_app.policy.defaults import policy_defaults_load
from requests_app.policy.models import PolicyRule
from tests.browser.conftest import ARTIFACTS, PageWatch
from tests.browser.conftest import log_in_with_totp as log_in
from tests.factories import PASSWORD, mailbox_link_path, make_agency, make_vetting_admin
from tests.requests_app.factories import make_reviewer
from tests.requests_app.signing import pdf_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
ZONE = "America/Sao_Paulo"
OFFICER_EMAIL = "ana.lima@pf.gov.example.br"
AGENCY = "Polícia Federal (teste)"
CALLBACK_NUMBER = "+556120248000"
IP_LOGIN = "203.0.113.81"
SUSPECT_PHONE = "+5511999990801"
CONNECTIONS_CSV = b"at,ip,port\n2026-02-03T10:00:00Z,203.0.113.81,40112\n"


@pytest.fixture(autouse=True)
def _policy_storage_and_limits(settings, tmp_path) -> Iterator[None]:
    policy_defaults_load(PolicyRule)  # a flushed transactional database has lost them
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    cache.clear()  # the rate limits count per address, and every browser is 127.0.0.1
    yield
    cache.clear()


@pytest.fixture
def phone(chromium, webauthn_origin, request) -> Iterator[object]:
    """The officer's phone: 390×844, touch, pt-BR, São Paulo, with a virtual passkey."""
    from tests.browser.conftest import VirtualAuthenticator

    context = chromium.new_context(
        base_url=webauthn_origin,
        viewport=PHONE,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        locale="pt-BR",
        timezone_id=ZONE,
        accept_downloads=True,
    )
    page = context.new_page()
    page.watch = PageWatch(page, webauthn_origin)
    page.authenticator = VirtualAuthenticator(context, page)
    page.checked = []
    page.problems = []
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def other_browser(chromium, webauthn_origin, request) -> Iterator[Callable[[str], object]]:
    """A desktop browser of its own (its own cookies), in English, for platform staff."""
    opened: list[tuple[str, object, object]] = []

    def open_page(name: str):
        context = chromium.new_context(base_url=webauthn_origin, locale="en-GB")
        page = context.new_page()
        page.watch = PageWatch(page, webauthn_origin)
        opened.append((name, context, page))
        return page

    yield open_page
    ARTIFACTS.mkdir(exist_ok=True)
    for name, context, page in opened:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{name}.png"), full_page=True)
        context.close()


def check(page) -> None:
    """Note what the officer's page breaks: sideways scroll, its language, a time not in
    São Paulo (all told at the end, so that one run lists every page); fail at once on
    what PageWatch forbids (a CSP violation, a console error, another origin)."""
    page.wait_for_load_state("load")
    where = page.url.split("/", 3)[-1]
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if widths[0] > widths[1]:
        page.problems.append(f"/{where}: scrolls sideways ({widths[0]} > {widths[1]} px)")
    lang = page.locator("html").get_attribute("lang") or ""
    if lang.lower() != "pt-br":
        page.problems.append(f"/{where}: <html lang={lang!r}>")
    for at, text in page.evaluate(
        "() => [...document.querySelectorAll('time[datetime]')]"
        ".map(t => [t.getAttribute('datetime'), t.textContent])"
    ):
        if "T" not in at:
            continue  # a date without a time of day
        local = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(ZoneInfo(ZONE))
        shown = " ".join(text.split())
        if re.search(r"\d:\d\d", shown):
            expected = f"{local:%H:%M}"
            ok = expected in shown
        else:  # an instant shown as a day: the day in São Paulo
            expected = f"day {local.day}"
            ok = re.search(rf"(?<!\d){local.day}(?!\d)", shown) is not None
        if not ok:
            page.problems.append(
                f"/{where}: <time datetime={at!r}> shows {shown!r}, not {expected} ({ZONE})"
            )
    page.watch.assert_clean()
    page.checked.append(where)


def submit(page, form: str) -> None:
    page.locator(form).locator("button[type=submit]").first.click()


def open_menu(page) -> None:
    """On a phone the header is one line: tap "Menu" (a <details>) as a person would."""
    summary = page.locator("details.site-menu > summary")
    if summary.is_visible() and not page.locator("details.site-menu[open]").count():
        summary.click()


def go(page, label: str) -> None:
    """Follow a link of the main navigation (platform staff, in English)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()
    page.wait_for_load_state("load")


def code_from_shown_secret(shown: str) -> str:
    secret = shown.replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key):06d}"


def test_a_brazilian_officer_goes_from_registration_to_a_response_on_a_phone_in_portuguese(
    phone, other_browser, webauthn_origin, tmp_path: Path, request
) -> None:
    # --- Given: what exists outside the portal's pages -----------------------------------
    agency = make_agency(
        name=AGENCY, country="BR", domain="pf.gov.example.br", callback_phone=CALLBACK_NUMBER
    )
    admin = make_vetting_admin(full_name="Vera Vetting")
    first_reviewer = make_reviewer(full_name="Ada First")
    second_reviewer = make_reviewer(full_name="Bo Second")
    account = PlatformAccount.objects.create(
        user_id="800002",
        username="suspeito_um",
        phone_number=SUSPECT_PHONE,
        registered_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    PlatformIpEvent.objects.create(
        account=account,
        kind=PlatformIpEvent.Kind.LOGIN,
        ip=IP_LOGIN,
        port=40112,
        at=datetime(2026, 2, 3, 10, tzinfo=UTC),
    )
    platform_file_store(
        account=account,
        name="connections-2026-02-03.csv",
        media_type="text/csv",
        category="ip_addresses",
        data=CONNECTIONS_CSV,
        at=datetime(2026, 2, 3, 10, tzinfo=UTC),
    )
    officer = phone
    vetting = other_browser("vetting")

    # --- Registration, from the home page; the language comes from Accept-Language -----
    officer.goto("/")
    check(officer)
    officer.locator("main a[href='/register/']").first.click()
    officer.wait_for_url("**/register/")
    check(officer)
    form = officer.locator("form[action='/register/']")
    form.locator("[name=full_name]").fill("Ana Lima")
    form.locator("[name=title]").fill("Delegada")
    form.locator("[name=badge_number]").fill("PF-4711")
    form.locator("[name=email]").fill(OFFICER_EMAIL)
    form.locator("[name=password1]").fill(PASSWORD)
    form.locator("[name=password2]").fill(PASSWORD)
    form.locator("[name=agency]").select_option(str(agency.pk))
    submit(officer, "form[action='/register/']")
    officer.wait_for_url("**/register/mailbox/")
    check(officer)

    link = mailbox_link_path(mail.outbox[-1])
    officer.goto(link)
    check(officer)
    officer.locator("main form [name=password]").fill(PASSWORD)
    submit(officer, "main form:has([name=password])")
    officer.wait_for_url("**/register/verified/")
    check(officer)

    # --- Log in; the factors: an authenticator app, backup codes, a passkey ------------
    officer.goto("/login/")
    check(officer)
    officer.locator("[name=username]").fill(OFFICER_EMAIL)
    officer.locator("[name=password]").fill(PASSWORD)
    officer.locator("[name=password]").press("Enter")
    officer.wait_for_url("**/account/factors/")
    check(officer)
    officer.goto("/account/factors/totp/")
    check(officer)
    shown_secret = officer.locator("code.secret").text_content()
    officer.locator("#totp-code").fill(code_from_shown_secret(shown_secret))
    submit(officer, "main form:has(#totp-code)")
    officer.locator("main a.button[href='/account/factors/']").wait_for()
    check(officer)  # the backup codes, shown once (the answer to the POST)
    officer.locator("main a.button[href='/account/factors/']").click()
    officer.wait_for_url("**/account/factors/")
    check(officer)
    officer.goto("/account/factors/passkey/")
    check(officer)
    officer.locator("#passkey-register-button").click()
    officer.wait_for_function(
        "() => document.querySelector('#passkey-register-status-message')?.textContent.trim()"
    )
    assert len(officer.authenticator.credentials()) == 1
    check(officer)

    # --- The account page: Portuguese and São Paulo, saved -----------------------------
    officer.goto("/account/preferences/")
    check(officer)
    prefs = "form[action='/account/preferences/']"
    officer.locator(prefs).locator("[name=language]").select_option("pt-br")
    officer.locator(prefs).locator("[name=time_zone]").select_option(ZONE)
    submit(officer, prefs)
    officer.wait_for_load_state("load")
    check(officer)
    user = User.objects.get(email=OFFICER_EMAIL)
    assert (user.language, user.time_zone) == ("pt-br", ZONE)

    # --- Vetting, by the administrator: the callback, then approval --------------------
    log_in(vetting, admin)
    go(vetting, "Vetting")
    vetting.locator("#officers").get_by_role("link", name="Ana Lima").click()
    vetting.get_by_role("heading", name="Ana Lima").wait_for()
    vetting.get_by_label("Confirmed", exact=True).check()
    vetting.get_by_label("Note").fill("O plantão confirmou Ana Lima.")
    vetting.get_by_role("button", name="Record the call").click()
    vetting.get_by_role("button", name="Approve Ana Lima").click()
    vetting.get_by_text("Ana Lima is approved and was told by email.").wait_for()

    # --- Logged in afresh with the passkey ---------------------------------------------
    officer.goto("/")
    open_menu(officer)
    submit(officer, "form[action='/logout/']")
    officer.wait_for_url("**/login/")
    check(officer)
    officer.locator("[name=username]").fill(OFFICER_EMAIL)
    officer.locator("[name=password]").fill(PASSWORD)
    officer.locator("[name=password]").press("Enter")
    officer.wait_for_url("**/login/verify/")
    check(officer)
    officer.locator("#passkey-verification-button").click()
    officer.wait_for_url(lambda url: "/login/" not in url)
    check(officer)

    # --- An age key pair made in the browser -------------------------------------------
    officer.goto("/account/keys/recipients/new/")
    check(officer)
    officer.locator("#age-keygen-button").click()
    with officer.expect_download() as download_info:
        officer.locator("#age-keygen-download").click()
    identity_file = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(identity_file)
    recipient = officer.locator("#recipient-form [name=recipient]").input_value()
    assert f"# public key: {recipient}" in identity_file.read_text()
    officer.locator("#age-keygen-saved").check()
    submit(officer, "#recipient-form")
    officer.wait_for_url("**/account/keys/")
    check(officer)

    go(vetting, "Vetting")
    vetting.locator("#age-recipients").get_by_role("link", name=recipient[:20]).click()
    vetting.get_by_label("I read every group of the fingerprint with the owner").check()
    vetting.get_by_role("button", name="Approve the age recipient").click()
    vetting.get_by_text("The age recipient is approved.").wait_for()

    go(vetting, "Vetting")
    vetting.locator("#signing-passkeys").get_by_role("link").first.click()
    vetting.get_by_label("I read every group of the fingerprint with the owner").check()
    vetting.get_by_role("button", name="Approve the passkey").click()
    vetting.get_by_text("The passkey is approved.").wait_for()

    officer.goto("/account/keys/")
    check(officer)

    # --- A request through the web channel, confirmed with the passkey -----------------
    officer.goto("/requests/new/")
    check(officer)
    officer.goto("/requests/new/subscriber_data/")
    check(officer)
    form = officer.locator("#submission-form")
    form.locator("[name=case_reference]").fill("IPL 2026.0412")
    form.locator("[name=offence]").select_option("fraud")
    form.locator("[name=legal_basis]").fill("Art. 22, Lei 12.965/2014 (Marco Civil da Internet)")
    form.locator("[name=authority_name]").fill("Juíza A. Exemplo")
    form.locator("[name=authority_role]").select_option("judge")
    form.locator("[name=authority_contact]").fill(CALLBACK_NUMBER)
    form.locator("#target-rows input[name$='-value']").first.fill("suspeito_um")
    form.locator("[name=data_categories][value=ip_addresses]").check()
    form.locator("[name=data_categories][value=phone_number]").check()
    form.locator("[name=period_from]").fill("2026-01-01")
    form.locator("[name=period_to]").fill("2026-03-31")
    officer.locator("#attachment-files").set_input_files(
        files=[
            {
                "name": "ordem.pdf",
                "mimeType": "application/pdf",
                "buffer": pdf_bytes("Ordem judicial 4711"),
            }
        ]
    )
    officer.locator("#attachment-list tbody tr").first.wait_for()
    check(officer)
    officer.locator("#preview-button").click()
    officer.wait_for_function(
        "() => document.querySelector('#preview-payload')?.textContent.includes('suspeito_um')"
    )
    check(officer)
    officer.locator("#confirm-button").click()
    officer.wait_for_function(
        "() => document.querySelector('#result-reference')?.textContent.startsWith('LR-')"
    )
    reference = officer.locator("#result-reference").text_content()
    assert reference.startswith("LR-")
    check(officer)
    officer.goto("/requests/mine/")
    check(officer)
    officer.goto(f"/requests/mine/{reference}/")
    check(officer)

    # --- Two reviewers: propose, confirm, hand to delivery (the English journey) -------
    first = other_browser("first-reviewer")
    log_in(first, first_reviewer)
    first.goto(f"/review/{reference}/")
    first.get_by_role("button", name="Claim this request").click()
    first.get_by_role("heading", name="Checklist and proposal").wait_for()
    items = first.locator("fieldset.checklist-item")
    for index in range(items.count()):
        items.nth(index).get_by_label("Satisfied", exact=True).check()
    first.get_by_label("Note: scope proportionate").fill("Duas categorias, três meses.")
    first.get_by_role("button", name="Save and propose the approval").click()
    first.get_by_role("heading", name="What this approval would disclose").wait_for()

    second = other_browser("second-reviewer")
    log_in(second, second_reviewer)
    second.goto(f"/review/{reference}/")
    second.get_by_role("link", name="Review the records and decide").click()
    second.get_by_role("button", name="Confirm the approval").click()
    second.get_by_role("heading", name="Hand to delivery").wait_for()
    second.get_by_role("button", name="Hand to delivery").click()
    second.get_by_text("Handed to delivery: the response is sealed").wait_for()
    assert SealedResponse.objects.count() == 1

    # --- The officer opens the response in the page ------------------------------------
    officer.goto("/responses/")
    check(officer)
    officer.locator("main a[href$='/decrypt/']").first.click()
    officer.wait_for_url("**/decrypt/")
    check(officer)
    officer.locator("#identity-file").set_input_files(identity_file)
    officer.locator("#decrypt-button").click()
    answer = officer.locator("#response-records")
    answer.get_by_text("suspeito_um").first.wait_for()
    # On a phone each cell is a stacked row whose column name is drawn before it (CSS
    # generated content, part of the cell's accessible name): look for the value inside.
    assert answer.locator("td").filter(has_text=IP_LOGIN).first.is_visible()
    assert answer.locator("td").filter(has_text=SUSPECT_PHONE).first.is_visible()
    check(officer)
    ARTIFACTS.mkdir(exist_ok=True)
    officer.screenshot(path=str(ARTIFACTS / f"{request.node.name}-response.png"), full_page=True)
    officer.goto(f"/requests/mine/{reference}/")
    check(officer)
    assert len(officer.checked) >= 25
    problems = list(dict.fromkeys(officer.problems))
    assert not problems, f"{len(problems)} problems on the officer's pages:\n" + "\n".join(problems)

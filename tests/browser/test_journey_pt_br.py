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
steps, and what exists before the journey, are tests/browser/journey_steps.py's, shared
with the English journey.
"""

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from accounts.models import User
from tests.browser import journey_steps as steps
from tests.browser.conftest import ARTIFACTS, passkey_page_in
from tests.browser.journey_steps import Journey
from tests.factories import PASSWORD, mailbox_link_path
from tests.requests_app.signing import pdf_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("policy_storage_and_limits"),
]

PHONE = {"width": 390, "height": 844}
ZONE = "America/Sao_Paulo"
STAFF_LOCALE = "en-GB"  # the platform's staff work in English, on a desktop
JOURNEY = Journey(
    officer_email="ana.lima@pf.gov.example.br",
    officer_name="Ana Lima",
    officer_title="Delegada",
    agency_name="Polícia Federal (teste)",
    agency_country="BR",
    agency_domain="pf.gov.example.br",
    callback_number="+556120248000",
    callback_shown="+55 61 2024-8000",
    callback_tel="tel:+55-61-2024-8000",
    user_id="800002",
    username="suspeito_um",
    ip_login="203.0.113.81",
    suspect_phone="+5511999990801",
)
OFFICER_EMAIL = JOURNEY.officer_email
IP_LOGIN = JOURNEY.ip_login
SUSPECT_PHONE = JOURNEY.suspect_phone


@pytest.fixture
def phone(chromium, webauthn_origin, request) -> Iterator[object]:
    """The officer's phone: 390×844, touch, pt-BR, São Paulo, with a virtual passkey."""
    with passkey_page_in(
        chromium,
        webauthn_origin,
        request.node.name,
        viewport=PHONE,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        locale="pt-BR",
        timezone_id=ZONE,
        accept_downloads=True,
    ) as page:
        page.checked = []
        page.problems = []
        yield page


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


def test_a_brazilian_officer_goes_from_registration_to_a_response_on_a_phone_in_portuguese(
    phone, other_browser, webauthn_origin, tmp_path: Path, request
) -> None:
    # --- Given: what exists outside the portal's pages -----------------------------------
    cast = steps.outside_the_portal(JOURNEY)
    officer = phone
    vetting = other_browser("vetting", locale=STAFF_LOCALE)

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
    form.locator("[name=agency]").select_option(str(cast.agency.pk))
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
    officer.locator("#totp-code").fill(steps.code_from_shown_secret(shown_secret))
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
    steps.vet_the_officer(vetting, cast.admin, JOURNEY, "O plantão confirmou Ana Lima.")

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

    steps.approve_the_recipient(vetting, recipient)

    # The officer reads out the passkey's fingerprint from the keys page.
    officer.goto("/account/keys/")
    check(officer)
    passkey_row = officer.get_by_role("row").filter(has_text="webauthn:")
    steps.approve_the_passkey(vetting, passkey_row.locator("code.key-fingerprint").text_content())

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
    form.locator("[name=authority_contact]").fill(JOURNEY.callback_number)
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
    first = other_browser("first-reviewer", locale=STAFF_LOCALE)
    steps.first_reviewer_proposes(
        first, cast.first_reviewer, reference, JOURNEY, "Duas categorias, três meses."
    )
    second = other_browser("second-reviewer", locale=STAFF_LOCALE)
    steps.second_reviewer_hands_over(second, cast.second_reviewer, reference, JOURNEY)

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

"""Every named page, as each role that can open it, in every language of the portal.

The data is the demo (``seed_demo``: agencies in five countries, their officers, a
supervisor, two reviewers, a vetting administrator who is also the staff member, requests
in review, one answered with a sealed response, the transparency history), loaded once
for the module, plus the few objects the demo has no reason to make (a draft, a pending
registration, a user notice). Every route of the URLconf is either rendered or listed in
``NOT_RENDERED`` with the reason; a new route fails ``test_every_route_is_rendered_or_
listed`` until it is one or the other.

For each language, each role logs in with the language saved on the account (anonymous
visitors send it in the cookie and ``Accept-Language``) and opens every page it may open:

- a status of 400 or more fails (the role is one that may open the page);
- in a language other than English, a sentence of the page that is still the English one
  fails, with the page and the text (the rule, and what it ignores, is in
  ``tests/i18n/leftovers.py``).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import models, transaction
from django.test import Client, TestCase, override_settings
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from accounts.access import ROLES as ROLES_MARK
from accounts.demo import DEMO_PASSWORD
from accounts.models import Role, User
from portal.access import BEFORE_SECOND_FACTOR, ONBOARDING, PUBLIC
from tests.factories import totp_code
from tests.i18n.leftovers import data_of, leftovers

pytestmark = pytest.mark.django_db

LANGUAGES = [code for code, _ in settings.LANGUAGES]
TRANSLATED = [code for code in LANGUAGES if code != settings.LANGUAGE_CODE]

# The demo people who play each role (accounts/demo.py). The vetting administrator is the
# portal's staff member too: the staff pages and the admin site are theirs.
PEOPLE = {
    "officer": "ana.souza@pf.gov.example.br",
    "reviewer": "reviewer@platform.example",
    "vetting_admin": "vetting@platform.example",
    "supervisor": "klaus.weber@bka.example.de",
    # An officer of an EU agency, for the one form only they are offered.
    "officer_de": "lena.fischer@bka.example.de",
}
ROLE_OF = {
    Role.OFFICER: "officer",
    Role.REVIEWER: "reviewer",
    Role.VETTING_ADMIN: "vetting_admin",
    Role.SUPERVISOR: "supervisor",
}
EVERYONE = ("anonymous", "officer", "reviewer", "vetting_admin", "supervisor")
LOGGED_IN = ("officer", "reviewer", "vetting_admin", "supervisor")

# Routes not rendered here, each with the reason. Everything else is rendered.
NOT_RENDERED = {
    # Actions: POST only (a GET is refused with 405 by design) or they change state.
    **dict.fromkeys(
        [
            "logout",
            "passkey-remove",
            "backup-codes-renew",
            "login-passkey-begin",
            "login-passkey-complete",
            "vetting-agency-callback",
            "vetting-agency-callback-number",
            "vetting-agency-verify",
            "vetting-agency-domain-remove",
            "vetting-agency-domain-subdomains",
            "vetting-agency-reject",
            "vetting-agency-suspend",
            "vetting-agency-reinstate",
            "vetting-officer-callback",
            "vetting-officer-approve",
            "vetting-officer-supervisor-propose",
            "vetting-officer-supervisor-withdraw",
            "vetting-officer-supervisor-appoint",
            "vetting-officer-reject",
            "vetting-officer-suspend",
            "vetting-officer-reinstate",
            "vetting-signing-key-approve",
            "vetting-signing-key-callback",
            "vetting-signing-key-reject",
            "vetting-signing-key-revoke",
            "vetting-signing-passkey-approve",
            "vetting-signing-passkey-callback",
            "vetting-signing-passkey-reject",
            "vetting-signing-passkey-revoke",
            "vetting-age-recipient-approve",
            "vetting-age-recipient-callback",
            "vetting-age-recipient-reject",
            "vetting-age-recipient-revoke",
            "supervisor-officer-suspend",
            "supervisor-officer-reinstatement",
            "supervisor-officer-vouch",
            "supervisor-signing-key-revoke",
            "supervisor-signing-passkey-revoke",
            "supervisor-age-recipient-revoke",
            "supervisor-token-revoke",
            "signing-key-revoke",
            "age-recipient-revoke",
            "api-token-revoke",
            "staff-transparency-publish",
            "staff-transparency-team-create",
            "staff-transparency-member-add",
            "staff-transparency-member-remove",
            "staff-transparency-team-delete",
            "staff-on-call-add",
            "staff-on-call-remove",
            "user-notice-handle",
            "review-claim",
            "review-assign",
            "review-assess",
            "review-clarify",
            "review-callback",
            "review-propose",
            "review-decide",
            "review-reject",
            "review-resume",
            "review-close",
            "review-confirm",
            "review-send-back",
            "review-disclose",
            "submission-submit",
            "submission-copy",
            "officer-request-reply-preview",
            "submission-check",
            "submission-draft-save",
            "officer-request-reply",
            "officer-request-reply-signed",
            "officer-request-share",
            "officer-request-unshare",
            "supervisor-request-reply",
            "set_language",
            "otp_webauthn:credential-registration-begin",
            "otp_webauthn:credential-registration-complete",
            "otp_webauthn:credential-authentication-begin",
            "otp_webauthn:credential-authentication-complete",
            "admin:logout",
        ],
        "an action: POST only, a GET changes nothing and shows no page",
    ),
    # Files, not pages: their bytes are what was uploaded, sealed or exported.
    **dict.fromkeys(
        [
            "review-document",
            "review-document-view",
            "review-message-document",
            "submission-draft-document",
            "officer-request-receipt",
            "response-download",
            "supervisor-response-download",
            "supervisor-requests-export",
            "transparency-json",
            "transparency-csv",
            "transparency-version-json",
            "transparency-version-csv",
            "transparency-schema",
        ],
        "a file download (PDF, CSV, JSON or ciphertext), not a page",
    ),
    # Machine interfaces: stable English codes by design; problem texts follow
    # Accept-Language and are tested with the API (docs/PROTOCOL.md).
    **dict.fromkeys(
        [
            "healthz",
            "api-me",
            "api-submissions",
            "api-submission",
            "api-portal-key",
            "api-submission-messages",
            "api-submission-receipt",
            "api-submission-withdraw",
            "api-audit-inclusion",
            "api-submission-audit-events",
            "api-submission-responses",
            "api-response-download",
            "api-audit-tree-head-latest",
            "api-audit-tree-head",
            "api-audit-consistency",
            "api-schema",
            "api-docs",
            "otp_webauthn:js-i18n-catalog",
            "admin:jsi18n",
            "admin:autocomplete",
        ],
        "a machine interface (JSON, JavaScript catalog), not a page",
    ),
    "login-verify": "the second step of a login in progress: rendered by every role's log-in",
    "password-reset-confirm": "needs a reset link mailed moments ago; opens a form only with "
    "its one-time token, which the password tests follow",
    "admin:view_on_site": "a redirect to the object's own page",
    "admin:auth_user_password_change": "an admin form to set a password; the portal changes "
    "passwords only through its own pages",
    "admin:accounts_user_add": "idem: accounts are made by registration and seed_demo",
    "admin:accounts_user_delete": "a confirmation before deleting an account",
    "admin:password_change": "the admin's own password form; the portal's is account/password/",
    "admin:password_change_done": "idem",
    "admin:login": "redirects to the portal's own login (accounts/admin.py)",
    "admin:-": "redirects (a bare object URL, or the admin's catch-all)",
}


@dataclass
class World:
    users: dict[str, User]
    kwargs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    data: frozenset[str] = frozenset()
    clients: dict[str, Client] = field(default_factory=dict)
    english: dict[tuple[str, str], str] = field(default_factory=dict)


def named_routes() -> Iterator[tuple[str, Any]]:
    """(name, view) of every named route, namespaced as ``reverse`` wants it."""

    def walk(patterns: list, namespace: str) -> Iterator[tuple[str, Any]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern):
                yield f"{namespace}{pattern.name or '-'}", pattern.callback

    seen = set()
    for name, view in walk(get_resolver().url_patterns, ""):
        if name not in seen:
            seen.add(name)
            yield name, view


def openers(name: str, view: Any) -> tuple[str, ...]:
    """The roles that may open a route: its role marks, else public, else every login."""
    if name.startswith("admin:"):
        return ("vetting_admin",)
    roles = getattr(view, ROLES_MARK, None)
    if roles:
        return tuple(ROLE_OF[role] for role in roles)
    if getattr(view, PUBLIC, False) or getattr(view, BEFORE_SECOND_FACTOR, False):
        return EVERYONE
    if getattr(view, ONBOARDING, False):
        return ("officer", "supervisor")
    return LOGGED_IN


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def fixture_data() -> frozenset[str]:
    """Every text the fixtures stored (names, references, free text): data, not language."""
    from django.apps import apps

    from accounts.preferences import zone_choices

    found: set[str] = set()
    for model in apps.get_models():
        columns = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
            and not f.choices
        ]
        if not columns or model.objects.count() > 5000:
            continue
        for row in model.objects.values_list(*columns):
            found.update(_strings(list(row)))
    found.update(label for _, label in zone_choices())
    found.update(name for _, name in settings.LANGUAGES)
    return data_of(found)


def django_admin_texts() -> re.Pattern[str]:
    """Django's own admin texts (its English catalog's msgids, placeholders as wildcards).

    They come with Django's catalogs, which the portal's cannot complete: makemessages
    keeps only the portal's own strings. Where Django has no translation (its Hindi admin
    is partial) the page shows Django's English: Django's gap, not a string the portal
    left, so on the admin's pages these are not counted. The portal's own texts there
    (its model's field names, its admin's titles) are.
    """
    import django
    from babel.messages.pofile import read_po

    admin = Path(django.__file__).parent / "contrib" / "admin" / "locale" / "en" / "LC_MESSAGES"
    patterns = []
    for name in ("django.po", "djangojs.po"):
        with (admin / name).open("rb") as po:
            for message in read_po(po):
                for msgid in message.id if isinstance(message.id, tuple) else (message.id,):
                    literal = re.sub(r"%(?:\(\w+\))?[sd]", " ", msgid)
                    if re.search(r"[A-Za-z]{2,}", literal):  # not "%(a)s %(b)s"
                        pattern = re.escape(" ".join(msgid.split()))
                        patterns.append(re.sub(r"%(?:\\\(\w+\\\))?[sd]", ".+?", pattern))
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


def same_in(language: str) -> frozenset[str]:
    """Country names a language writes as English does ("Costa Rica", "Sri Lanka")."""
    from django.utils import translation
    from django_countries import countries

    with translation.override(settings.LANGUAGE_CODE):
        english = {code: str(name) for code, name in countries}
    with translation.override(language):
        return data_of(str(name) for code, name in countries if str(name) == english[code])


def log_in(user: User) -> Client:
    client = Client()
    response = client.post("/login/", {"username": user.email, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.content
    response = client.post("/login/verify/", {"method": "totp", "code": totp_code(user)})
    assert response.status_code == 302, response.content
    return client


def route_kwargs(world_users: dict[str, User]) -> dict[str, list[dict[str, Any]]]:
    """For each parameterised route, the arguments it is opened with (demo objects)."""
    from accounts.models import AgeRecipient, SigningKey, SigningPasskey
    from requests_app.intake.models import SubmissionDraft
    from requests_app.intake.web.forms import kind_option_for
    from requests_app.lifecycle.models import LegalRequest, RequestKind
    from requests_app.policy.models import PolicyRule
    from requests_app.review.disclosure import PREVIEWABLE
    from requests_app.review.models import Decision, UserNotice
    from tests.factories import mailbox_link_path, make_signing_passkey, registration_form
    from tests.requests_app.factories import make_legal_request

    ana = world_users["officer"].officer
    supervisor = world_users["supervisor"].officer
    answered = (
        LegalRequest.objects.filter(officer=ana, sealed_responses__isnull=False).first()
        or LegalRequest.objects.filter(officer=ana).first()
    )
    of_agency = LegalRequest.objects.filter(agency=supervisor.agency).first()
    # A decision with its request, for the reviewers' preview of what it would disclose: one
    # that can be previewed (proposed or confirmed, not a rejection; the demo has several,
    # and which one has the lowest key depends on what the database held before).
    decision = (
        Decision.objects.select_related("request")
        .filter(state__in=PREVIEWABLE)
        .exclude(outcome=Decision.Outcome.REJECT)
        .order_by("pk")
        .first()
    )
    response = answered.sealed_responses.first()
    draft = SubmissionDraft.objects.create(
        officer=ana, kind="subscriber_data", fields={"case_reference": "IPL 2026.0001"}
    )
    # Listed on the reviewers' notices page.
    UserNotice.objects.get_or_create(request=answered)
    # A registration waiting for its mailbox link, made through the page, link from the mail.
    mail.outbox = []
    with TestCase.captureOnCommitCallbacks(execute=True):
        registered = Client().post("/register/", registration_form(agency=ana.agency))
    assert registered.status_code == 302, registered.content
    token = mailbox_link_path(mail.outbox[-1]).rstrip("/").rsplit("/", 1)[-1]
    # A live preservation request: the officer may extend or withdraw it.
    preserved = make_legal_request(officer=ana, kind="preservation")
    agency = ana.agency
    signing_key = SigningKey.objects.filter(officer=ana).first()
    signing_passkey = SigningPasskey.objects.filter(officer=ana).first() or make_signing_passkey(
        officer=ana
    )
    recipient = AgeRecipient.objects.filter(officer=ana).first()
    rule = PolicyRule.objects.first()
    user = world_users["officer"]
    table: dict[str, list[dict[str, Any]]] = {
        "mailbox-verify": [{"token": token}],
        "register-discard": [{"token": token}],
        "vetting-agency": [{"agency_id": agency.pk}],
        "vetting-agency-domains": [{"agency_id": agency.pk}],
        "vetting-officer": [{"officer_id": ana.pk}],
        "vetting-signing-key": [{"key_id": signing_key.pk}],
        "vetting-signing-passkey": [{"key_id": signing_passkey.pk}],
        "vetting-age-recipient": [{"key_id": recipient.pk}],
        "staff-policy-edit": [{"rule_id": rule.pk}],
        "review-request": [{"reference": answered.reference}],
        "review-preview": [{"reference": decision.request.reference, "decision_id": decision.pk}],
        # Each kind as an officer it is offered to (the EU production order: the German one).
        "submission-form": [
            {
                "kind": kind,
                "_as": "officer" if kind_option_for(officer=ana, kind=kind) else "officer_de",
            }
            for kind in RequestKind.values
        ],
        "submission-draft": [{"draft_id": draft.pk}],
        "submission-draft-delete": [{"draft_id": draft.pk}],
        "officer-request": [{"reference": answered.reference}],
        "officer-request-withdraw": [{"reference": preserved.reference}],
        "officer-preservation-extend": [{"reference": preserved.reference}],
        "response-decrypt": [{"response_id": response.pk}],
        "supervisor-request": [{"reference": of_agency.reference}],
        "admin:accounts_user_change": [{"object_id": user.pk}],
        "admin:accounts_user_history": [{"object_id": user.pk}],
        "admin:app_list": [{"app_label": "accounts"}],
    }
    return table


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    storage = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path_factory.mktemp("storage"))},
        },
    }
    with (
        django_db_blocker.unblock(),
        override_settings(DEMO_FILES_DIR=tmp_path_factory.mktemp("demo"), STORAGES=storage),
        transaction.atomic(),
    ):
        # The demo's answer is sealed once its transaction commits: run those hooks here.
        with TestCase.captureOnCommitCallbacks(execute=True):
            call_command("seed_demo", stdout=StringIO())
        users = {role: User.objects.get(email=email) for role, email in PEOPLE.items()}
        world = World(users=users)
        world.kwargs = route_kwargs(users)
        world.data = fixture_data()
        world.clients = {role: log_in(user) for role, user in users.items()}
        world.clients["anonymous"] = Client()
        yield world
        transaction.set_rollback(True)


@dataclass(frozen=True)
class Visit:
    route: str
    role: str
    url: str


def visits(world: World) -> list[Visit]:
    found = []
    for name, view in named_routes():
        if name in NOT_RENDERED:
            continue
        try:
            reverse(name)
            arguments: list[dict[str, Any]] = [{}]
        except NoReverseMatch:  # a route with parameters: the demo objects it names
            arguments = world.kwargs.get(name, [])
        for kwargs in arguments:
            url = reverse(name, kwargs={k: v for k, v in kwargs.items() if k != "_as"} or None)
            roles = [kwargs["_as"]] if "_as" in kwargs else openers(name, view)
            found.extend(Visit(name, role, url) for role in roles)
    return found


def render(world: World, visit: Visit, language: str) -> tuple[int, str]:
    client = world.clients[visit.role]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(visit.url, HTTP_ACCEPT_LANGUAGE=language)
    is_html = response.get("Content-Type", "").startswith("text/html")
    body = response.content.decode() if is_html and response.status_code == 200 else ""
    return response.status_code, body


def speak(world: World, language: str) -> None:
    """Every demo person has saved ``language`` on their account (rolled back after the test)."""
    User.objects.filter(pk__in=[u.pk for u in world.users.values()]).update(language=language)


def test_every_route_is_rendered_or_listed(world):
    names = {name for name, _ in named_routes()}
    assert not set(NOT_RENDERED) - names, "NOT_RENDERED names routes that no longer exist"
    rendered = {visit.route for visit in visits(world)}
    missing = names - set(NOT_RENDERED) - rendered
    assert not missing, f"routes neither rendered nor listed in NOT_RENDERED: {sorted(missing)}"


def english_page(world: World, visit: Visit) -> str:
    key = (visit.role, visit.url)
    if key not in world.english:
        with transaction.atomic():
            speak(world, settings.LANGUAGE_CODE)
            world.english[key] = render(world, visit, settings.LANGUAGE_CODE)[1]
            transaction.set_rollback(True)
    return world.english[key]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_opens_and_is_in_the_language(world, language):
    speak(world, language)
    data = world.data | same_in(language)
    django_own = django_admin_texts()
    errors: list[str] = []
    english_left: dict[str, list[str]] = {}  # text: the pages it was left on
    for visit in visits(world):
        status, body = render(world, visit, language)
        page = f"{visit.url} as {visit.role}"
        if status >= 400:
            errors.append(f"{page} ({visit.route}): status {status}")
            continue
        if language == settings.LANGUAGE_CODE or not body:
            continue
        html_lang = re.search(r"<html[^>]*\blang=\"([^\"]*)\"", body)
        if html_lang is None or html_lang.group(1).lower() != language:
            errors.append(f"{page}: <html lang> is {html_lang and html_lang.group(1)!r}")
        for left in leftovers(body, english_page(world, visit), data):
            if visit.route.startswith("admin:") and django_own.fullmatch(left.text):
                continue
            english_left.setdefault(left.text, []).append(page)
    lines = errors + [
        f"{text!r} on {pages[0]}" + (f" and {len(pages) - 1} more pages" if len(pages) > 1 else "")
        for text, pages in english_left.items()
    ]
    assert not lines, (
        f"{language}: {len(errors)} errors, {len(english_left)} English texts left:\n"
        + "\n".join(lines[:300])
        + (f"\n… and {len(lines) - 300} more" if len(lines) > 300 else "")
    )

"""API tokens: created in the web UI and shown once, stored as a hash, expiring, revocable;
the bearer authentication that refuses them in PROTOCOL §5's terms; and GET /api/v1/me.

Each attack test checks the refusal (status, problem code) and that nothing was granted
or changed: no token created, last use not recorded, no audit event.
"""

import hashlib
import re
import secrets
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import step_up
from accounts.authentication import ApiTokenAuthentication
from accounts.models import Agency, ApiToken, Officer, Role
from accounts.services.keys import age_recipient_enrol, signing_key_enrol
from accounts.services.tokens import (
    TokenInvalid,
    TokenOwnerNotActive,
    TokenRefused,
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
)
from portal.models import AuditEvent
from tests.accounts.test_keys import EXAMPLE_RECIPIENT
from tests.audit_marks import actions_since, audit_mark
from tests.factories import PASSWORD, log_in, make_agency, make_officer, make_user, totp_code
from tests.portal.test_crypto import RFC8032_KEY_ID, RFC8032_PUBLIC_PEM
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

TOKEN_FORMAT = re.compile(r"ptk_[A-Za-z0-9_-]{43}")
PROBLEM = "application/problem+json"
ME = "/api/v1/me"


def new_token(officer: Officer, **kwargs) -> str:
    return api_token_create(
        officer=officer, actor=officer.user, name=kwargs.pop("name", "case system"), **kwargs
    ).secret


def call_me(secret: str, **headers):
    return Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}", **headers)


# --- Creating a token in the web UI --------------------------------------------------------


def second_factor_used_ago(client: Client, seconds: int) -> None:
    """Make the session's last second factor ``seconds`` old (what a stolen cookie carries)."""
    session = client.session
    session[step_up.SESSION_KEY] = int(time.time()) - seconds
    session.save()


def test_an_hour_old_second_factor_cannot_mint_a_token_and_nothing_is_stored(
    officer_client, officer, django_capture_on_commit_callbacks
) -> None:
    second_factor_used_ago(officer_client, 3600)
    before = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = officer_client.post(
            "/account/tokens/", {"name": "thief's script", "lifetime_days": "90"}
        )

    assert response.status_code == 302
    assert response["Location"] == "/account/factors/confirm/?next=%2Faccount%2Ftokens%2F"
    assert "ptk_" not in response.content.decode()
    assert not ApiToken.objects.exists()
    assert actions_since(before) == []
    assert mail.outbox == []


def test_after_confirming_the_second_factor_again_the_token_is_created(
    officer_client, officer
) -> None:
    second_factor_used_ago(officer_client, 3600)
    confirm = officer_client.post(
        "/account/factors/confirm/?next=/account/tokens/",
        {"method": "totp", "code": totp_code(officer.user, offset_steps=1)},
    )
    assert confirm["Location"] == "/account/tokens/"

    response = officer_client.post("/account/tokens/", {"name": "case system", "lifetime_days": 30})

    assert response.status_code == 200
    assert ApiToken.objects.filter(officer=officer).count() == 1


def test_a_new_token_is_mailed_to_the_officer_without_its_secret(
    officer_client, officer, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = officer_client.post(
            "/account/tokens/", {"name": "case system, Berlin", "lifetime_days": 30}
        )

    assert response.status_code == 200
    secret = TOKEN_FORMAT.search(response.content.decode())
    assert secret is not None
    [message] = mail.outbox
    assert message.to == [officer.user.email]
    assert message.subject == "An API token was created for your authority portal account"
    token = ApiToken.objects.get()
    assert "case system, Berlin" in message.body
    assert token.prefix in message.body
    assert secret.group(0) not in message.body
    assert "/account/tokens/" in message.body


def test_a_token_is_shown_once_and_only_its_hash_is_stored(officer_client, officer) -> None:
    before = audit_mark()

    response = officer_client.post("/account/tokens/", {"name": "Case system", "lifetime_days": 30})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    secrets_shown = set(TOKEN_FORMAT.findall(page))
    assert len(secrets_shown) == 1
    secret = secrets_shown.pop()
    token = ApiToken.objects.get(officer=officer)
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12]
    assert token.name == "Case system"
    stored = " ".join(str(value) for value in ApiToken.objects.values().get().values())
    assert secret not in stored
    assert secret[12:] not in stored
    assert actions_since(before) == ["api_token.created"]
    event = AuditEvent.objects.get(action="api_token.created")
    assert secret not in str(event.data)
    assert token.token_hash not in str(event.data)
    assert event.data["lifetime_days"] == 30

    listing = officer_client.get("/account/tokens/").content.decode()
    assert TOKEN_FORMAT.findall(listing) == []
    assert token.prefix in listing


def test_the_default_lifetime_is_30_days_and_90_the_most(officer_client, officer) -> None:
    form = officer_client.get("/account/tokens/").content.decode()
    assert 'value="30"' in form
    assert 'max="90"' in form

    officer_client.post("/account/tokens/", {"name": "long", "lifetime_days": 90})

    token = ApiToken.objects.get()
    lifetime = token.expires_at - token.created_at
    assert lifetime == timedelta(days=90)


@pytest.mark.parametrize("days", ["0", "91", "-1", "abc", ""])
def test_a_lifetime_outside_1_to_90_days_creates_nothing(officer_client, days) -> None:
    before = audit_mark()

    response = officer_client.post("/account/tokens/", {"name": "x", "lifetime_days": days})

    assert response.status_code == 400
    assert TOKEN_FORMAT.findall(response.content.decode()) == []
    assert not ApiToken.objects.exists()
    assert actions_since(before) == []


def test_the_service_refuses_a_lifetime_beyond_the_maximum_too(officer) -> None:
    with pytest.raises(TokenRefused):
        api_token_create(officer=officer, actor=officer.user, name="x", lifetime_days=91)
    assert not ApiToken.objects.exists()


def test_a_password_only_session_cannot_create_a_token(client, officer) -> None:
    client.post("/login/", {"username": officer.user.email, "password": PASSWORD})

    response = client.post("/account/tokens/", {"name": "x", "lifetime_days": 30})

    assert response.status_code == 302
    assert response["Location"].startswith("/login/verify/")
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("status", [Officer.Status.PENDING, Officer.Status.EMAIL_UNVERIFIED])
def test_an_officer_not_yet_vetted_cannot_create_a_token(client, status) -> None:
    officer = make_officer(status=status)
    log_in(client, officer.user)

    response = client.post("/account/tokens/", {"name": "x", "lifetime_days": 30})

    assert response.status_code == 302
    assert not ApiToken.objects.exists()


def test_the_service_refuses_a_token_for_an_officer_who_is_not_active() -> None:
    officer = make_officer(status=Officer.Status.SUSPENDED)
    with pytest.raises(TokenRefused):
        api_token_create(officer=officer, actor=officer.user, name="x")
    assert not ApiToken.objects.exists()


def test_staff_have_no_token_pages(client) -> None:
    log_in(client, make_user(role=Role.REVIEWER))
    assert client.get("/account/tokens/").status_code == 403
    assert client.post("/account/tokens/", {"name": "x", "lifetime_days": 30}).status_code == 403
    assert not ApiToken.objects.exists()


# --- Revoking ------------------------------------------------------------------------------------


def test_an_officer_revokes_their_token_and_it_stops_working(officer_client, officer) -> None:
    secret = new_token(officer)
    token = ApiToken.objects.get()
    assert call_me(secret).status_code == 200
    before = audit_mark()

    response = officer_client.post(f"/account/tokens/{token.pk}/revoke/")

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_by == officer.user
    assert actions_since(before) == ["api_token.revoked"]
    assert_problem(call_me(secret), status=401, code="unauthenticated")
    assert "revoked" in officer_client.get("/account/tokens/").content.decode()


def test_another_officers_token_is_not_found_and_keeps_working(officer_client) -> None:
    other = make_officer()
    secret = new_token(other)
    token = ApiToken.objects.get()
    before = audit_mark()

    response = officer_client.post(f"/account/tokens/{token.pk}/revoke/")

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert actions_since(before) == []
    assert call_me(secret).status_code == 200
    assert token.prefix not in officer_client.get("/account/tokens/").content.decode()


def test_revoking_needs_a_post(officer_client, officer) -> None:
    new_token(officer)
    token = ApiToken.objects.get()
    assert officer_client.get(f"/account/tokens/{token.pk}/revoke/").status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


# --- Bearer authentication: attacks ----------------------------------------------------------


def test_no_credentials_is_a_401_with_a_bearer_challenge() -> None:
    response = Client().get(ME)

    assert_problem(response, status=401, code="unauthenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="portal"'


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer nonsense",
        "Bearer ptk_",
        "Bearer " + "ptk_" + secrets.token_urlsafe(32),  # well formed, never issued
        "Bearer ptk_abc def",
        "Bearer " + "ptk_" + "é" * 43,
        "Basic " + "b2ZmaWNlcjpwYXNzd29yZA==",
        "bearer",
    ],
)
def test_a_garbage_bearer_is_unauthenticated(officer, header: str) -> None:
    new_token(officer)
    before = audit_mark()

    response = Client().get(ME, HTTP_AUTHORIZATION=header)

    assert_problem(response, status=401, code="unauthenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="portal"'
    assert ApiToken.objects.get().last_used_at is None
    assert actions_since(before) == []


def test_a_revoked_token_is_unauthenticated_and_its_use_not_recorded(officer) -> None:
    secret = new_token(officer)
    api_token_revoke(token=ApiToken.objects.get(), actor=officer.user)
    before = audit_mark()

    response = call_me(secret)

    body = assert_problem(response, status=401, code="unauthenticated")
    assert "Anna" not in str(body)
    assert response["WWW-Authenticate"] == 'Bearer realm="portal"'
    assert ApiToken.objects.get().last_used_at is None
    assert actions_since(before) == []


def test_an_expired_token_is_unauthenticated(officer) -> None:
    secret = new_token(officer, lifetime_days=1)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = call_me(secret)

    assert_problem(response, status=401, code="unauthenticated")
    assert ApiToken.objects.get().last_used_at is None


@pytest.mark.parametrize("status", [Officer.Status.SUSPENDED, Officer.Status.REJECTED])
def test_a_token_of_a_suspended_or_rejected_officer_is_refused_at_once(officer, status) -> None:
    secret = new_token(officer)
    assert call_me(secret).status_code == 200
    ApiToken.objects.update(last_used_at=None)
    Officer.objects.filter(pk=officer.pk).update(status=status)
    before = audit_mark()

    response = call_me(secret)

    body = assert_problem(response, status=403, code="officer_not_active")
    assert "Anna" not in str(body)
    assert ApiToken.objects.get().last_used_at is None
    assert actions_since(before) == []


def test_a_token_of_a_deactivated_user_is_refused(officer) -> None:
    secret = new_token(officer)
    type(officer.user).objects.filter(pk=officer.user_id).update(is_active=False)

    assert_problem(call_me(secret), status=403, code="officer_not_active")


@pytest.mark.parametrize("status", [Agency.Status.SUSPENDED, Agency.Status.PENDING])
def test_a_token_of_an_officer_whose_agency_is_not_verified_is_refused(officer, status) -> None:
    secret = new_token(officer)
    Agency.objects.filter(pk=officer.agency_id).update(status=status)
    before = audit_mark()

    response = call_me(secret)

    assert_problem(response, status=403, code="agency_not_verified")
    assert ApiToken.objects.get().last_used_at is None
    assert actions_since(before) == []


def test_the_authentication_rules_as_a_function(officer) -> None:
    secret = new_token(officer)
    assert api_token_authenticate(secret=secret, ip="192.0.2.1").officer == officer
    with pytest.raises(TokenInvalid):
        api_token_authenticate(secret=secret[:-1] + ("A" if secret[-1] != "A" else "B"), ip=None)
    Agency.objects.filter(pk=officer.agency_id).update(status=Agency.Status.SUSPENDED)
    with pytest.raises(TokenOwnerNotActive) as refusal:
        api_token_authenticate(secret=secret, ip=None)
    assert refusal.value.code == "agency_not_verified"


def test_the_bearer_challenge_names_the_portal() -> None:
    assert ApiTokenAuthentication().authenticate_header(None) == 'Bearer realm="portal"'


# --- Last use ------------------------------------------------------------------------------------


def test_the_last_use_is_recorded_at_most_once_a_minute(officer) -> None:
    secret = new_token(officer)

    assert call_me(secret, REMOTE_ADDR="192.0.2.10").status_code == 200
    token = ApiToken.objects.get()
    first_use = token.last_used_at
    assert first_use is not None
    assert token.last_used_ip == "192.0.2.10"

    with CaptureQueriesContext(connection) as queries:
        assert call_me(secret, REMOTE_ADDR="192.0.2.11").status_code == 200
    assert not [
        q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")
    ]
    token.refresh_from_db()
    assert token.last_used_at == first_use
    assert token.last_used_ip == "192.0.2.10"

    ApiToken.objects.update(last_used_at=first_use - timedelta(minutes=2))
    assert call_me(secret, REMOTE_ADDR="192.0.2.12").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > first_use
    assert token.last_used_ip == "192.0.2.12"


def test_the_token_list_shows_the_last_use(officer_client, officer) -> None:
    secret = new_token(officer)
    call_me(secret, REMOTE_ADDR="198.51.100.7")

    page = officer_client.get("/account/tokens/").content.decode()

    assert "198.51.100.7" in page
    assert "never" not in page


# --- GET /api/v1/me ----------------------------------------------------------------------------


def test_me_with_a_token_describes_the_officer_their_agency_and_keys() -> None:
    officer = make_officer(full_name="Anna Schmidt")
    agency = officer.agency
    signing_key_enrol(officer=officer, actor=officer.user, public_key_pem=RFC8032_PUBLIC_PEM)
    age_recipient_enrol(officer=officer, actor=officer.user, recipient=EXAMPLE_RECIPIENT)
    other = make_officer(agency=agency)
    age_recipient_enrol(
        officer=other,
        actor=other.user,
        recipient="age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg",
    )
    secret = new_token(officer, name="Case system")

    response = call_me(secret)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["name"] == "Anna Schmidt"
    assert body["email"] == officer.user.email
    assert body["agency"]["name"] == agency.name
    assert body["agency"]["country"] == "DE"
    assert body["agency"]["country_name"] == "Germany"
    assert [(k["key_id"], k["status"]) for k in body["signing_keys"]] == [
        (RFC8032_KEY_ID, "pending")
    ]
    assert [(r["recipient"], r["status"]) for r in body["age_recipients"]] == [
        (EXAMPLE_RECIPIENT, "pending")
    ]
    assert body["authenticated_by"] == "api_token"
    assert body["token"]["name"] == "Case system"
    assert body["token"]["prefix"] == secret[:12]
    assert secret not in response.content.decode()


def test_me_with_a_verified_session_works_and_says_so(officer_client) -> None:
    response = officer_client.get(ME)

    assert response.status_code == 200
    assert response.json()["authenticated_by"] == "session"
    assert response.json()["token"] is None


def test_me_with_a_password_only_session_is_unauthenticated(client, officer) -> None:
    client.post("/login/", {"username": officer.user.email, "password": PASSWORD})

    assert_problem(client.get(ME), status=401, code="unauthenticated")


def test_me_refuses_a_staff_session(client) -> None:
    log_in(client, make_user(role=Role.REVIEWER))

    assert_problem(client.get(ME), status=403, code="forbidden")


def test_the_session_authentication_enforces_csrf_on_unsafe_methods(officer) -> None:
    client = Client(enforce_csrf_checks=True)
    log_in_with_csrf(client, officer)

    response = client.post(ME, {}, content_type="application/json")

    body = assert_problem(response, status=403, code="forbidden")
    assert "CSRF" in body["detail"]


def log_in_with_csrf(client: Client, officer: Officer) -> None:
    client.get("/login/")
    csrf = client.cookies["portal_csrf"].value
    client.post(
        "/login/",
        {"username": officer.user.email, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
    )
    csrf = client.cookies["portal_csrf"].value
    response = client.post(
        "/login/verify/",
        {"method": "totp", "code": totp_code(officer.user), "csrfmiddlewaretoken": csrf},
    )
    assert response.status_code == 302


def test_a_token_request_needs_no_csrf_token_as_no_browser_sends_one_by_itself(officer) -> None:
    secret = new_token(officer)
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        ME, {}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )

    assert_problem(response, status=405, code="method_not_allowed")


def test_an_officer_of_another_agency_sees_only_themselves(officer) -> None:
    stranger = make_officer(agency=make_agency(country="FR"))
    signing_key_enrol(officer=officer, actor=officer.user, public_key_pem=RFC8032_PUBLIC_PEM)

    body = call_me(new_token(stranger)).json()

    assert body["email"] == stranger.user.email
    assert body["signing_keys"] == []
    assert body["agency"]["country"] == "FR"


def test_the_schema_documents_me_and_both_ways_in_without_warnings(client, tmp_path) -> None:
    output = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(output))

    import yaml

    schema = yaml.safe_load(output.read_text())
    operation = schema["paths"]["/api/v1/me"]["get"]
    assert {"apiToken": []} in operation["security"]
    assert {"verifiedSession": []} in operation["security"]
    assert set(operation["responses"]) >= {"200", "401", "403"}
    assert PROBLEM in operation["responses"]["401"]["content"]
    scheme = schema["components"]["securitySchemes"]["apiToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")

"""What one accepted submission costs in round trips, and that none of it is a stale read.

Intake reads everything its checks need in two queries before it writes: the token (with
its officer and agency), then the signing key with the nonce's holder and the policy rule
folded into the same statement. The writes are one transaction, one atomic block. On
Redis the three rate limits are one script: one round trip. These counts are pinned so
that a change adding a round trip fails here; the reads stay fresh, so a key revoked or
a policy rule changed between two submissions applies to the second.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis.connection import AbstractConnection

from accounts.models import Agency, ApiToken, KeyStatus, Officer, SigningKey, User
from accounts.services.keys import signing_key_revoke
from accounts.services.tokens import api_token_revoke
from portal import compiled
from portal.models import AuditEvent
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import Attachment, LegalRequest
from requests_app.policy.models import PolicyRule
from tests.problems import assert_problem
from tests.requests_app.signing import post_envelope, submission

pytestmark = pytest.mark.django_db

REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


def _statement(sql: str) -> str:
    """``SELECT accounts_apitoken``, ``INSERT portal_auditevent``, ``SAVEPOINT``..."""
    verb = sql.split(None, 1)[0].upper()
    if verb == "SELECT":
        return f"SELECT {_main_table(sql)}"
    if verb == "INSERT":
        return f"INSERT {sql.split()[2].strip(chr(34))}"
    if verb == "UPDATE":
        return f"UPDATE {sql.split()[1].strip(chr(34))}"
    if verb == "RELEASE":
        return "RELEASE SAVEPOINT"
    return verb


def _main_table(sql: str) -> str:
    """The table after the outermost FROM (subqueries have FROMs of their own)."""
    depth = 0
    for index, char in enumerate(sql):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and sql.startswith(" FROM ", index):
            return sql[index + 6 :].split()[0].strip('"')
    return "?"


@pytest.fixture
def redis_cache(settings, redis_url):
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": redis_url}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def redis_round_trips(monkeypatch):
    """Every command (or pipeline) a Redis client sends: one round trip each."""
    sent: list[bytes] = []
    original = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return sent


def test_an_accepted_submission_reads_twice_writes_once_and_asks_redis_once(
    postgres, client, signer, token, redis_cache, redis_round_trips
):
    # PostgreSQL, as in production: SQLite numbers an audit event only as it inserts it,
    # so there the receipt's audit fields cost an UPDATE after the event's INSERT.
    first = submission()
    assert post_envelope(client, first.sign(signer), first.files, token).status_code == 201
    # Warm: the token's last use is recorded (at most once a minute), Redis knows the script.
    redis_round_trips.clear()
    sub = submission()
    with CaptureQueriesContext(connection) as queries:
        response = post_envelope(client, sub.sign(signer), sub.files, token)

    assert response.status_code == 201, response.content
    statements = [_statement(q["sql"]) for q in queries.captured_queries]
    assert statements == [
        # the reads, two round trips: the token with its officer and agency; the key, with
        # the nonce's holder and the policy rule in subqueries
        "SELECT accounts_apitoken",
        "SELECT accounts_signingkey",
        # the writes: one atomic block (a savepoint only because the test runs inside a
        # transaction of its own; in production it is BEGIN ... COMMIT)
        "SAVEPOINT",
        "INSERT requests_app_legalrequest",
        "INSERT requests_app_requesttarget",
        "INSERT requests_app_attachment",
        "INSERT portal_auditevent",
        # no UPDATE: the request's INSERT took the number of its audit event and wrote it
        # into the receipt (PROTOCOL §6.6); the event was inserted with that number
        "RELEASE SAVEPOINT",
    ]
    key_query = queries.captured_queries[1]["sql"]
    assert "requests_app_legalrequest" in key_query  # the nonce's holder
    assert "requests_app_policyrule" in key_query  # the rule
    assert "nextval(" in queries.captured_queries[3]["sql"]  # the request's INSERT
    request = LegalRequest.objects.get(reference=response.json()["reference"])
    received = AuditEvent.objects.get(action="legal_request.received", target_id=str(request.pk))
    assert response.json()["receipt"]["audit_event"] == received.seq
    assert request.receipt["audit_event"] == received.seq
    # ... sent as SQL compiled once, not rebuilt by the ORM for each submission.
    statements_compiled = [
        v
        for k, v in compiled._compiled.items()
        if k[0] == "accounts.api_token" or k[0][0] == "api_sender"
    ]
    assert len(statements_compiled) == 2
    assert None not in statements_compiled
    # The three rate limits: one script, one round trip.
    assert len(redis_round_trips) == 1, redis_round_trips
    assert b"EVALSHA" in b"".join(redis_round_trips[0])


def test_a_key_revoked_between_two_submissions_refuses_the_second_and_stores_nothing(
    client, officer, signer, token
):
    first = submission()
    assert post_envelope(client, first.sign(signer), first.files, token).status_code == 201
    key = SigningKey.objects.get(key_id=signer.key_id)
    signing_key_revoke(key=key, actor=officer.user, reason="Laptop stolen")
    assert SigningKey.objects.get(pk=key.pk).status == KeyStatus.REVOKED

    second = submission()
    assert_problem(
        post_envelope(client, second.sign(signer), second.files, token),
        status=403,
        code="key_not_active",
    )
    assert LegalRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action="legal_request.received").count() == 1
    assert list(IntakeRejection.objects.values_list("code", flat=True)) == ["key_not_active"]


def _token_revoked(officer):
    api_token_revoke(token=ApiToken.objects.get(officer=officer), actor=officer.user)


def _user_deactivated(officer):
    User.objects.filter(pk=officer.user_id).update(is_active=False)


def _officer_suspended(officer):
    # Directly, tokens left live: the vetting service would also revoke them, and this is
    # the standing check that the token's own statement reads.
    Officer.objects.filter(pk=officer.pk).update(status=Officer.Status.SUSPENDED)


def _agency_suspended(officer):
    Agency.objects.filter(pk=officer.agency_id).update(status=Agency.Status.SUSPENDED)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (_token_revoked, 401, "unauthenticated"),
        (_user_deactivated, 403, "officer_not_active"),
        (_officer_suspended, 403, "officer_not_active"),
        (_agency_suspended, 403, "agency_not_verified"),
    ],
)
def test_a_token_or_standing_lost_between_two_submissions_refuses_the_second_and_stores_nothing(
    client, officer, signer, token, change, status, code
):
    # The token's statement is written once per process; what it reads is read afresh.
    first = submission()
    assert post_envelope(client, first.sign(signer), first.files, token).status_code == 201
    change(officer)

    second = submission()
    assert_problem(
        post_envelope(client, second.sign(signer), second.files, token),
        status=status,
        code=code,
    )
    assert LegalRequest.objects.count() == 1
    assert Attachment.objects.count() == 1
    assert AuditEvent.objects.filter(action="legal_request.received").count() == 1
    assert list(IntakeRejection.objects.values_list("code", flat=True)) == [code]


def test_a_policy_rule_changed_between_two_submissions_applies_to_the_second(
    client, officer, signer, token
):
    first = submission()
    assert post_envelope(client, first.sign(signer), first.files, token).status_code == 201
    kind = first.payload["request"]["kind"]
    # The default rule for the kind stops allowing it (the officer's country has none).
    assert not PolicyRule.objects.filter(country=officer.agency.country, kind=kind).exists()
    assert PolicyRule.objects.filter(country="", kind=kind).update(allowed=False) == 1

    second = submission()
    problem = assert_problem(
        post_envelope(client, second.sign(signer), second.files, token),
        status=422,
        code="policy_violation",
    )
    assert problem["rule"] == "kind_not_allowed"
    assert LegalRequest.objects.count() == 1
    assert list(IntakeRejection.objects.values_list("code", flat=True)) == ["policy_violation"]

    # A rule of the officer's own country comes before the default, at once as well.
    PolicyRule.objects.create(
        country=officer.agency.country,
        kind=kind,
        allowed=True,
        disclosable_categories=first.payload["request"]["data_categories"],
        document_required=True,
        deadline_hours=48,
    )
    third = submission()
    response = post_envelope(client, third.sign(signer), third.files, token)
    assert response.status_code == 201, response.content
    request = LegalRequest.objects.get(reference=response.json()["reference"])
    assert (request.due_at - request.received_at).total_seconds() == 48 * 3600


def test_a_byte_identical_retry_is_answered_from_the_record_the_key_query_found(
    client, signer, token
):
    sub = submission()
    envelope = sub.sign(signer)
    first = post_envelope(client, envelope, sub.files, token)
    assert first.status_code == 201
    again = post_envelope(client, envelope, sub.files, token)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert LegalRequest.objects.count() == 1

"""``portal.compiled``: the SQL compiled once answers as the queryset would, every time.

Its users are the token read of every API call (``accounts.services.tokens``, with
``select_related``), intake's key read (``intake.channel``, with subqueries annotated) and
the queue's capped overdue count (``review.selectors``, its parameters moments).
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import JSONField, OuterRef, Subquery
from django.db.models.functions import JSONObject
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Agency, ApiToken, KeyStatus, Officer, SigningKey, User
from accounts.services.tokens import token_hash
from portal import compiled
from tests.factories import make_api_token, make_officer
from tests.requests_app.signing import enrol_signing_key

pytestmark = pytest.mark.django_db


def tokens(*, digest: str):
    return ApiToken.objects.select_related("officer__user", "officer__agency").filter(
        token_hash=digest
    )


def keys(*, key_id: str, officer_id: int, status: str):
    return SigningKey.objects.filter(key_id=key_id, officer_id=officer_id, status=status).order_by(
        "-created_at"
    )


def keys_with_the_agency(*, key_id: str, officer_id: int):
    agency = Officer.objects.filter(pk=OuterRef("officer_id")).values(
        shape=JSONObject(id="agency_id", status="agency__status")
    )
    return (
        SigningKey.objects.filter(key_id=key_id, officer_id=officer_id)
        .annotate(agency=Subquery(agency[:1], output_field=JSONField()))
        .order_by("pk")
    )


def fields_of(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_a_row_with_its_related_rows_is_the_one_the_orm_reads(officer):
    token, secret = make_api_token(officer=officer)
    digest = token_hash(secret)

    found = compiled.compiled_first("test-tokens", tokens, {"digest": digest})
    expected = tokens(digest=digest).get()

    assert isinstance(found, ApiToken)
    assert fields_of(found) == fields_of(expected)
    assert found._state.adding is False
    assert found._state.db == expected._state.db
    # The related rows came with it, as select_related brings them: no query to reach them.
    with CaptureQueriesContext(connection) as queries:
        officer_read, user, agency = found.officer, found.officer.user, found.officer.agency
    assert queries.captured_queries == []
    assert isinstance(officer_read, Officer)
    assert isinstance(user, User)
    assert isinstance(agency, Agency)
    assert fields_of(officer_read) == fields_of(expected.officer)
    assert fields_of(user) == fields_of(expected.officer.user)
    assert fields_of(agency) == fields_of(expected.officer.agency)
    # One statement, compiled once: not the ORM's fallback.
    assert [v for k, v in compiled._compiled.items() if k[0] == "test-tokens"] != [None]


def test_the_same_statement_sees_each_calls_values_and_each_change_of_the_rows(officer):
    token, secret = make_api_token(officer=officer)
    other_token, other_secret = make_api_token(officer=make_officer())

    def read(value: str) -> ApiToken | None:
        return compiled.compiled_first("test-tokens-fresh", tokens, {"digest": token_hash(value)})

    first = read(secret)
    assert first is not None
    assert first.pk == token.pk
    other = read(other_secret)
    assert other is not None
    assert other.pk == other_token.pk
    assert other.officer.pk != first.officer.pk
    assert read("ptk_unknown") is None

    # Changes of the token's row and of its related rows are read by the next call.
    ApiToken.objects.filter(pk=token.pk).update(name="Renamed")
    Officer.objects.filter(pk=officer.pk).update(status=Officer.Status.SUSPENDED)
    User.objects.filter(pk=officer.user_id).update(is_active=False)
    Agency.objects.filter(pk=officer.agency_id).update(status=Agency.Status.SUSPENDED)
    again = read(secret)
    assert again is not None
    assert again.name == "Renamed"
    assert again.officer.status == Officer.Status.SUSPENDED
    assert again.officer.user.is_active is False
    assert again.officer.agency.status == Agency.Status.SUSPENDED
    ApiToken.objects.filter(pk=token.pk).delete()
    assert read(secret) is None


def test_integers_and_text_are_parameters_and_a_changed_status_is_seen(officer):
    signer = enrol_signing_key(officer)
    values = {"key_id": signer.key_id, "officer_id": officer.pk, "status": KeyStatus.ACTIVE}

    found = compiled.compiled_first("test-keys", keys, values)
    assert found is not None
    assert fields_of(found) == fields_of(SigningKey.objects.get(key_id=signer.key_id))
    # The same SQL, other values: another officer's id finds nothing ...
    assert compiled.compiled_first("test-keys", keys, {**values, "officer_id": 0}) is None
    # ... and a change of the row is seen by the next call (nothing read is cached).
    SigningKey.objects.filter(pk=found.pk).update(status=KeyStatus.REVOKED)
    assert compiled.compiled_first("test-keys", keys, values) is None
    revoked = {**values, "status": KeyStatus.REVOKED}
    again = compiled.compiled_first("test-keys", keys, revoked)
    assert again is not None
    assert again.pk == found.pk


def test_annotations_arrive_as_the_orm_gives_them(officer):
    signer = enrol_signing_key(officer)
    values = {"key_id": signer.key_id, "officer_id": officer.pk}

    found = compiled.compiled_first("test-annotated", keys_with_the_agency, values)
    expected = keys_with_the_agency(**values).get()

    assert found is not None
    assert found.agency == expected.agency == {"id": officer.agency_id, "status": "verified"}
    Agency.objects.filter(pk=officer.agency_id).update(status=Agency.Status.SUSPENDED)
    again = compiled.compiled_first("test-annotated", keys_with_the_agency, values)
    assert again is not None
    assert again.agency["status"] == Agency.Status.SUSPENDED


def test_a_value_the_statement_does_not_take_as_a_parameter_falls_back_to_the_orm(officer):
    signer = enrol_signing_key(officer)

    def ignoring_status(*, key_id: str, officer_id: int, status: str):
        return SigningKey.objects.filter(key_id=key_id, officer_id=officer_id).order_by("pk")

    values = {"key_id": signer.key_id, "officer_id": officer.pk, "status": "whatever"}
    found = compiled.compiled_first("test-ignoring", ignoring_status, values)
    assert found is not None
    assert found.key_id == signer.key_id
    assert [v for k, v in compiled._compiled.items() if k[0] == "test-ignoring"] == [None]


def test_on_postgresql_the_statement_is_prepared_and_still_read_afresh(postgres, officer):
    token, secret = make_api_token(officer=officer)
    digest = token_hash(secret)

    for _ in range(2):
        found = compiled.compiled_first("test-prepared", tokens, {"digest": digest})
        assert found is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(
        "accounts_apitoken" in statement and "accounts_agency" in statement
        for statement in prepared
    ), prepared
    # The prepared statement reads the row as it is now.
    Officer.objects.filter(pk=officer.pk).update(status=Officer.Status.SUSPENDED)
    found = compiled.compiled_first("test-prepared", tokens, {"digest": digest})
    assert found is not None
    assert found.officer.status == Officer.Status.SUSPENDED


def recent_tokens(*, officer_id: int, now: datetime):
    """The officer's tokens made in the 30 days before ``now`` and not expired at it."""
    return ApiToken.objects.filter(
        officer_id=officer_id, created_at__gte=now - timedelta(days=30), expires_at__gt=now
    ).order_by("pk")


def test_a_moment_plus_an_offset_is_each_calls_moment_and_a_changed_row_is_seen(postgres, officer):
    # (On SQLite Django sends a datetime as text: a moment is not compiled there.)
    token, _ = make_api_token(officer=officer)
    now = timezone.now()

    def read(at: datetime) -> ApiToken | None:
        return compiled.compiled_first(
            "test-moments", recent_tokens, {"officer_id": officer.pk, "now": at}
        )

    found = read(now)
    assert found is not None
    assert found.pk == token.pk
    (statement,) = [v for k, v in compiled._compiled.items() if k[0] == "test-moments"]
    assert statement is not None
    assert {slot.offset for slot in statement.slots if isinstance(slot, compiled._Since)} == {
        timedelta(0),
        -timedelta(days=30),
    }
    # Each call's moment, with each offset: 31 days later the token is too old, and a
    # moment after its expiry finds nothing either.
    assert read(now + timedelta(days=31)) is None
    assert read(token.expires_at + timedelta(seconds=1)) is None
    assert (
        read(now + timedelta(days=29))
        == recent_tokens(officer_id=officer.pk, now=now + timedelta(days=29)).first()
    )
    # Anything but an aware datetime for the moment is refused, not sent.
    with pytest.raises(TypeError, match="now: the statement was compiled for datetime, not str"):
        read(now.isoformat())
    with pytest.raises(TypeError, match="now: a moment must be an aware datetime"):
        read(now.replace(tzinfo=None))
    # A change of the row is read by the next call.
    ApiToken.objects.filter(pk=token.pk).update(created_at=now - timedelta(days=31))
    assert read(now) is None
    ApiToken.objects.filter(pk=token.pk).update(created_at=now - timedelta(days=29))
    again = read(now)
    assert again is not None
    assert again.created_at == now - timedelta(days=29)


def recent_token_ids(*, officer_id: int, now: datetime) -> tuple[str, tuple]:
    return recent_tokens(officer_id=officer_id, now=now).values("pk").query.sql_with_params()


def test_a_statement_with_moments_is_the_one_compiled_at_each_moment(postgres, officer):
    token, _ = make_api_token(officer=officer)
    now = timezone.now()

    def ids(at: datetime) -> list[int]:
        sql, params = compiled.compiled_statement(
            "test-moment-statement", recent_token_ids, {"officer_id": officer.pk, "now": at}
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    assert ids(now) == [token.pk]
    assert ids(now + timedelta(days=31)) == []
    assert [v for k, v in compiled._compiled.items() if k[0] == "test-moment-statement"] != [None]
    for at in (
        now,
        datetime(2027, 3, 28, 1, 30, 0, 1, tzinfo=UTC),
        datetime(1999, 1, 1, tzinfo=UTC),
    ):
        sql, params = recent_token_ids(officer_id=officer.pk, now=at)
        assert compiled.compiled_statement(
            "test-moment-statement", recent_token_ids, {"officer_id": officer.pk, "now": at}
        ) == (sql, list(params))


def test_a_moment_used_otherwise_than_plus_an_offset_is_not_compiled(officer):
    """The start of the moment's day moves with it, but not by exactly its distance: the
    statement is built afresh on every call, and still answers as the queryset does."""
    token, _ = make_api_token(officer=officer)

    def made_before_the_day(*, officer_id: int, now: datetime):
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return ApiToken.objects.filter(officer_id=officer_id, created_at__lt=day).order_by("pk")

    now = timezone.now()
    values = {"officer_id": officer.pk, "now": now}
    assert compiled.compiled_first("test-start-of-day", made_before_the_day, values) is None
    assert [v for k, v in compiled._compiled.items() if k[0] == "test-start-of-day"] == [None]
    ApiToken.objects.filter(pk=token.pk).update(created_at=now - timedelta(days=2))
    found = compiled.compiled_first("test-start-of-day", made_before_the_day, values)
    assert found is not None
    assert found.pk == token.pk


def test_a_value_of_the_wrong_kind_is_refused_naming_it(officer):
    naive = timezone.now().replace(tzinfo=None)
    with pytest.raises(TypeError, match="now: a moment must be an aware datetime"):
        compiled.compiled_first(
            "test-naive", recent_tokens, {"officer_id": officer.pk, "now": naive}
        )
    with pytest.raises(TypeError, match="officer_id: a boolean has no placeholder"):
        compiled.compiled_first(
            "test-boolean", recent_tokens, {"officer_id": True, "now": timezone.now()}
        )
    # Compiled for an integer, a call with text is refused, not sent.
    signer = enrol_signing_key(officer)
    values = {"key_id": signer.key_id, "officer_id": officer.pk, "status": KeyStatus.ACTIVE}
    assert compiled.compiled_first("test-kinds", keys, values) is not None
    with pytest.raises(TypeError, match="officer_id: the statement was compiled for int, not str"):
        compiled.compiled_first("test-kinds", keys, {**values, "officer_id": str(officer.pk)})

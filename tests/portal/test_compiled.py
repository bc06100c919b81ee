"""``portal.compiled``: the SQL compiled once answers as the queryset would, every time.

Its two users are the token read of every API call (``accounts.services.tokens``, with
``select_related``) and intake's key read (``intake.channel``, with subqueries annotated).
"""

import pytest
from django.db import connection
from django.db.models import JSONField, OuterRef, Subquery
from django.db.models.functions import JSONObject
from django.test.utils import CaptureQueriesContext

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

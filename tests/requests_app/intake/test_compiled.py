"""``intake.compiled``: the SQL compiled once answers as the queryset would, every time."""

import pytest

from accounts.models import KeyStatus, SigningKey
from requests_app.intake import compiled
from tests.requests_app.signing import enrol_signing_key

pytestmark = pytest.mark.django_db


def build(*, key_id: str, officer_id: int, status: str):
    return SigningKey.objects.filter(key_id=key_id, officer_id=officer_id, status=status).order_by(
        "-created_at"
    )


def test_the_compiled_query_reads_the_present_rows_with_each_calls_values(officer):
    signer = enrol_signing_key(officer)
    values = {"key_id": signer.key_id, "officer_id": officer.pk, "status": KeyStatus.ACTIVE}

    found = compiled.first_compiled("test-keys", SigningKey, build, values)
    assert found is not None
    assert found.pk == SigningKey.objects.get(key_id=signer.key_id).pk
    assert [v for k, v in compiled._compiled.items() if k[0] == "test-keys"] != [None]
    # The same SQL, other values: another officer's id finds nothing ...
    assert (
        compiled.first_compiled("test-keys", SigningKey, build, {**values, "officer_id": 0}) is None
    )
    # ... and a change of the row is seen by the next call (nothing read is cached).
    SigningKey.objects.filter(pk=found.pk).update(status=KeyStatus.REVOKED)
    assert compiled.first_compiled("test-keys", SigningKey, build, values) is None
    revoked = {**values, "status": KeyStatus.REVOKED}
    assert compiled.first_compiled("test-keys", SigningKey, build, revoked).pk == found.pk


def test_a_value_the_statement_does_not_take_as_a_parameter_falls_back_to_the_orm(officer):
    signer = enrol_signing_key(officer)

    def ignoring_status(*, key_id: str, officer_id: int, status: str):
        return SigningKey.objects.filter(key_id=key_id, officer_id=officer_id).order_by("pk")

    values = {"key_id": signer.key_id, "officer_id": officer.pk, "status": "whatever"}
    found = compiled.first_compiled("test-ignoring", SigningKey, ignoring_status, values)
    assert found is not None
    assert found.key_id == signer.key_id
    assert [v for k, v in compiled._compiled.items() if k[0] == "test-ignoring"] == [None]

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.requests_app.signing import post_envelope, submission

pytestmark = pytest.mark.django_db

def test_probe(client, signer, token):
    sub = submission()
    post_envelope(client, submission().sign(signer), submission().files, token)
    env = sub.sign(signer)
    with CaptureQueriesContext(connection) as q:
        r = post_envelope(client, env, sub.files, token)
    assert r.status_code == 201
    for x in q.captured_queries:
        print(x["sql"][:200])

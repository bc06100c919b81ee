"""The public transparency page shows the audit log's newest signed tree head."""

import pytest
from django.test import Client

from portal.audit import audit_append
from portal.models import AuditTreeHead
from portal.sequencer import audit_sequence

pytestmark = pytest.mark.django_db


def test_before_any_head_the_page_says_so(client: Client) -> None:
    page = client.get("/transparency/").content.decode()
    assert "The audit log" in page
    assert "No state of the log has been signed yet." in page


def test_the_page_shows_the_newest_signed_head_with_its_time(client: Client) -> None:
    for n in range(3):
        audit_append(action="request.noted", target_type="test", target_id=str(n))
    audit_sequence(publish=False)
    audit_append(action="request.noted", target_type="test", target_id="3")
    audit_sequence(publish=False)
    head = AuditTreeHead.objects.get(tree_size=4)

    response = client.get("/transparency/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<dd>4</dd>" in page
    assert head.root_hash in page
    assert head.key_id in page
    assert f'<time datetime="{head.timestamp}">' in page
    assert 'href="/api/v1/audit/tree-heads/latest"' in page

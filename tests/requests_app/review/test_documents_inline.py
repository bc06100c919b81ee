"""The request page's inline documents, from the server's side: the viewer's markup, its
script and worker from static/dist, and a policy that stays strict (the browser test in
tests/browser/test_document_viewer.py opens a real PDF)."""

import pytest
from django.conf import settings

from tests.factories import log_in
from tests.requests_app.factories import make_attachment, make_legal_request, make_reviewer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }


def test_a_request_with_documents_gets_the_viewer_and_its_script_from_static(client):
    log_in(client, make_reviewer())
    request = make_legal_request()
    attachment = make_attachment(request, filename="order.pdf")

    response = client.get(f"/review/{request.reference}/")
    page = response.content.decode()

    assert "data-document-viewer hidden" in page
    assert 'data-worker="/static/dist/pdf.worker.js"' in page
    assert '<script type="module" src="/static/dist/document-viewer.js"></script>' in page
    # The viewer fetches from its own address, so that an opening is audited as such.
    url = f"/review/{request.reference}/documents/{attachment.pk}/view/"
    assert f'data-document-url="{url}"' in page
    assert 'data-document-type="application/pdf"' in page
    # Opening a document is a read like a download: nothing is read until the viewer asks.
    assert "attachment.downloaded" not in page
    assert "document.viewed" not in page


def test_a_request_without_documents_loads_no_viewer(client):
    log_in(client, make_reviewer())
    request = make_legal_request()

    page = client.get(f"/review/{request.reference}/").content.decode()

    assert "document-viewer.js" not in page
    assert "data-document-viewer" not in page


def test_the_policy_allows_no_eval_no_inline_script_and_no_other_origin(client):
    log_in(client, make_reviewer())
    request = make_legal_request()
    make_attachment(request)

    header = client.get(f"/review/{request.reference}/")["Content-Security-Policy"]

    directives = dict(
        (part.split()[0], part.split()[1:]) for part in header.split(";") if part.strip()
    )
    assert directives["script-src"] == ["'self'"]
    assert "unsafe-eval" not in header
    assert "unsafe-inline" not in header
    assert "blob:" not in header
    # The worker is a script of this origin: script-src covers it, no worker-src is added.
    assert "worker-src" not in settings.SECURE_CSP

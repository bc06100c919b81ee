"""Who gets a sealed response (PROTOCOL §4, §6): the requesting officers, and nobody else.

The happy paths check what an officer needs to trust a file (size, SHA-256, expiry) and
that every download is counted and audited. Each attack checks the refusal, that no
byte of the sealed file left, and that nothing changed: not the count, not the audit
chain, not the stored file.
"""

import base64
import hashlib
import io
import json
import re
import zipfile
from datetime import UTC, timedelta

import pyrage
import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Officer
from accounts.services.tokens import api_token_revoke
from accounts.services.vetting import officer_suspend
from portal import crypto
from portal.models import AuditEvent
from requests_app.delivery.models import SealedResponse
from requests_app.delivery.sealing import sealed_response_purge
from requests_app.lifecycle.models import RequestShare
from tests.factories import (
    PASSWORD,
    log_in,
    make_api_token,
    make_officer,
    make_user,
    make_vetting_admin,
)
from tests.problems import assert_problem
from tests.requests_app.delivery_helpers import (
    Delivery,
    delivery_state,
    sealed_delivery,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("storage")]

AGE_MAGIC = b"age-encryption.org/v1"


@pytest.fixture
def delivery(client) -> Delivery:
    return sealed_delivery(client)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def download_url(sealed: SealedResponse) -> str:
    return f"/api/v1/responses/{sealed.pk}/download"


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_no_sealed_byte(response) -> None:
    """Not one byte of a sealed file in the answer, and nothing a browser would save."""
    assert AGE_MAGIC not in response.content
    assert "Content-Disposition" not in response


def assert_unchanged(before: dict, delivery: Delivery) -> None:
    assert delivery_state() == before
    assert delivery.sealed is not None
    assert delivery.sealed.file.storage.exists(delivery.sealed.file.name)


# --- The officer's own responses ---------------------------------------------------------


def test_the_officer_lists_the_responses_to_their_request_as_metadata_only(client, delivery):
    sealed = delivery.sealed
    before = delivery_state()

    answer = client.get(
        f"/api/v1/submissions/{delivery.reference}/responses", **bearer(delivery.token)
    )

    assert answer.status_code == 200
    assert answer.json() == [
        {
            "id": sealed.pk,
            "size": sealed.size,
            "sha256": sealed.sha256,
            "created_at": sealed.created_at.isoformat().replace("+00:00", "Z"),
            "expires_at": sealed.expires_at.isoformat().replace("+00:00", "Z"),
            "available": True,
            "recipients": [str(delivery.identity.to_public())],
        }
    ]
    assert delivery_state() == before  # reading metadata is not a download


def test_the_officer_downloads_the_sealed_file_with_a_token_and_it_opens(client, delivery):
    sealed = delivery.sealed
    stored = sealed.file.read()

    answer = client.get(download_url(sealed), **bearer(delivery.token))

    assert answer.status_code == 200
    assert answer.streaming
    assert answer["Content-Type"] == "application/octet-stream"
    assert answer["Content-Disposition"] == f'attachment; filename="{delivery.reference}.age"'
    assert int(answer["Content-Length"]) == sealed.size
    assert "no-store" in answer["Cache-Control"]
    digest = base64.b64encode(bytes.fromhex(sealed.sha256)).decode()
    assert answer["Repr-Digest"] == f"sha-256=:{digest}:"
    body = body_of(answer)
    assert body == stored
    assert len(body) == sealed.size
    assert hashlib.sha256(body).hexdigest() == sealed.sha256
    archive = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(body, [delivery.identity])))
    assert sorted(archive.namelist()) == ["certificate.pdf", "response.json", "response.json.sig"]

    sealed.refresh_from_db()
    assert sealed.download_count == 1
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.action == "response.downloaded"
    assert event.actor == delivery.officer.user
    assert event.target_type == "requests_app.legalrequest"
    assert event.target_id == str(delivery.request.pk)
    token = delivery.officer.api_tokens.get()
    assert event.data == {
        "reference": delivery.reference,
        "sealed_response_id": sealed.pk,
        "sha256": sealed.sha256,
        "size": sealed.size,
        "channel": "api",
        "ip": "127.0.0.1",
        "before": {"download_count": 0},
        "after": {"download_count": 1},
        "api_token": {"id": token.pk, "prefix": token.prefix},
    }


def test_every_download_counts_and_is_audited_in_order(client, delivery):
    first_seq = AuditEvent.objects.order_by("-seq").first().seq

    for _ in range(3):
        assert body_of(client.get(download_url(delivery.sealed), **bearer(delivery.token)))

    delivery.sealed.refresh_from_db()
    assert delivery.sealed.download_count == 3
    events = AuditEvent.objects.filter(seq__gt=first_seq).order_by("seq")
    assert [e.action for e in events] == ["response.downloaded"] * 3
    assert [e.data["after"]["download_count"] for e in events] == [1, 2, 3]


def test_a_client_that_asks_for_octet_stream_gets_the_file_and_problems_stay_json(client, delivery):
    ok = client.get(
        download_url(delivery.sealed),
        HTTP_ACCEPT="application/octet-stream",
        **bearer(delivery.token),
    )
    assert ok.status_code == 200
    assert body_of(ok).startswith(AGE_MAGIC)

    missing = client.get(
        "/api/v1/responses/999999/download",
        HTTP_ACCEPT="application/octet-stream",
        **bearer(delivery.token),
    )
    assert_problem(missing, status=404, code="not_found")
    assert_no_sealed_byte(missing)


def test_a_colleague_the_request_is_shared_with_downloads_it_too(client, delivery):
    colleague = make_officer(agency=delivery.officer.agency)
    RequestShare.objects.create(
        request=delivery.request, officer=colleague, granted_by=delivery.officer
    )
    token = make_api_token(officer=colleague)[1]

    answer = client.get(download_url(delivery.sealed), **bearer(token))

    assert answer.status_code == 200
    assert body_of(answer) == delivery.sealed.file.read()
    assert AuditEvent.objects.order_by("-seq").first().actor == colleague.user


# --- Attacks through the API ---------------------------------------------------------------


def test_another_agencys_officer_gets_404_and_nothing(client, delivery):
    stranger = make_api_token(officer=make_officer())[1]
    before = delivery_state()

    download = client.get(download_url(delivery.sealed), **bearer(stranger))
    listing = client.get(f"/api/v1/submissions/{delivery.reference}/responses", **bearer(stranger))
    unknown = client.get("/api/v1/responses/999999/download", **bearer(stranger))

    assert_problem(download, status=404, code="not_found")
    assert_no_sealed_byte(download)
    assert_problem(listing, status=404, code="not_found")
    assert_no_sealed_byte(listing)
    # a stranger cannot tell an existing response from a missing one
    assert download.json() == unknown.json()
    assert_unchanged(before, delivery)


def test_a_colleague_of_the_same_agency_without_a_share_gets_404(client, delivery):
    colleague = make_api_token(officer=make_officer(agency=delivery.officer.agency))[1]
    before = delivery_state()

    refusal = client.get(download_url(delivery.sealed), **bearer(colleague))
    assert_problem(refusal, status=404, code="not_found")
    assert_no_sealed_byte(refusal)

    assert_unchanged(before, delivery)


def test_a_revoked_token_gets_401_and_nothing(client, delivery):
    token = delivery.officer.api_tokens.get()
    api_token_revoke(token=token, actor=delivery.officer.user)
    before = delivery_state()

    answer = client.get(download_url(delivery.sealed), **bearer(delivery.token))

    assert_problem(answer, status=401, code="unauthenticated")
    assert_no_sealed_byte(answer)
    assert answer["WWW-Authenticate"] == 'Bearer realm="portal"'
    assert_unchanged(before, delivery)


def test_no_token_gets_401_and_nothing(client, delivery):
    before = delivery_state()
    refusal = client.get(download_url(delivery.sealed))
    assert_problem(refusal, status=401, code="unauthenticated")
    assert_no_sealed_byte(refusal)
    assert_unchanged(before, delivery)


def test_a_suspended_officers_live_token_gets_403_officer_not_active_and_nothing(client, delivery):
    # The standing is checked on every request, whatever revoked (or did not) the token.
    Officer.objects.filter(pk=delivery.officer.pk).update(status=Officer.Status.SUSPENDED)
    before = delivery_state()

    answer = client.get(download_url(delivery.sealed), **bearer(delivery.token))

    assert_problem(answer, status=403, code="officer_not_active")
    assert_no_sealed_byte(answer)
    assert_unchanged(before, delivery)


def test_an_officer_suspended_by_vetting_loses_token_and_session_at_once(client, delivery):
    browser = Client()
    log_in(browser, delivery.officer.user)
    officer_suspend(officer=delivery.officer, actor=make_vetting_admin(), reason="Left the force")
    before = delivery_state()

    by_token = client.get(download_url(delivery.sealed), **bearer(delivery.token))
    by_session = browser.get(download_url(delivery.sealed))
    on_the_web = browser.post(f"/responses/{delivery.sealed.pk}/download/")

    assert_problem(by_token, status=401, code="unauthenticated")
    assert_no_sealed_byte(by_token)
    assert_problem(by_session, status=401, code="unauthenticated")
    assert_no_sealed_byte(by_session)
    assert on_the_web.status_code == 302
    assert AGE_MAGIC not in on_the_web.content
    assert_unchanged(before, delivery)


def test_an_expired_response_is_410_gone_and_nothing_is_served(client, delivery):
    SealedResponse.objects.filter(pk=delivery.sealed.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    before = delivery_state()

    answer = client.get(download_url(delivery.sealed), **bearer(delivery.token))

    assert_problem(answer, status=410, code="gone")
    assert_no_sealed_byte(answer)
    assert_unchanged(before, delivery)
    listed = client.get(
        f"/api/v1/submissions/{delivery.reference}/responses", **bearer(delivery.token)
    )
    assert listed.json()[0]["available"] is False


def test_a_purged_response_is_410_gone(client, delivery):
    SealedResponse.objects.filter(pk=delivery.sealed.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    sealed_response_purge(sealed=delivery.sealed)
    before = delivery_state()

    refusal = client.get(download_url(delivery.sealed), **bearer(delivery.token))
    assert_problem(refusal, status=410, code="gone")
    assert_no_sealed_byte(refusal)

    assert delivery_state() == before
    assert not delivery.sealed.file.storage.exists(delivery.sealed.file.name)


def test_a_stranger_asking_for_an_expired_response_still_gets_404_not_410(client, delivery):
    SealedResponse.objects.filter(pk=delivery.sealed.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    stranger = make_api_token(officer=make_officer())[1]
    refusal = client.get(download_url(delivery.sealed), **bearer(stranger))
    assert_problem(refusal, status=404, code="not_found")
    assert_no_sealed_byte(refusal)


@pytest.mark.parametrize("role", ["reviewer", "vetting_admin"])
def test_platform_staff_sessions_get_no_sealed_file(client, delivery, role):
    staff = make_user(role=role)
    log_in(client, staff)
    before = delivery_state()

    api = client.get(download_url(delivery.sealed))
    web = client.post(f"/responses/{delivery.sealed.pk}/download/")
    page = client.get("/responses/")
    opener = client.get(f"/responses/{delivery.sealed.pk}/decrypt/")

    assert_problem(api, status=403, code="forbidden")
    assert_no_sealed_byte(api)
    assert web.status_code == 403
    assert page.status_code == 403
    assert opener.status_code == 403
    assert AGE_MAGIC not in web.content
    assert_unchanged(before, delivery)


def test_a_password_only_session_gets_no_sealed_file(client, delivery):
    user = delivery.officer.user
    step = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert step.status_code == 302  # the second factor is still to come
    before = delivery_state()

    api = client.get(download_url(delivery.sealed))
    web = client.post(f"/responses/{delivery.sealed.pk}/download/")

    assert_problem(api, status=401, code="unauthenticated")
    assert_no_sealed_byte(api)
    assert web.status_code == 302
    assert web["Location"].startswith("/login/verify/")
    assert AGE_MAGIC not in web.content
    assert_unchanged(before, delivery)


# --- The web pages ------------------------------------------------------------------------


def test_the_responses_page_shows_size_sha256_and_expiry_of_the_officers_responses_only(
    client, delivery
):
    other = sealed_delivery(Client(), username="suspect_two")
    log_in(client, delivery.officer.user)

    page = client.get("/responses/")

    assert page.status_code == 200
    html = page.content.decode()
    sealed = delivery.sealed
    assert delivery.reference in html
    assert f"{sealed.size} bytes" in html
    assert sealed.sha256 in html
    until = sealed.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert f'<time datetime="{until}">' in html  # shown in the viewer's zone, UTC for machines
    assert f'action="/responses/{sealed.pk}/download/"' in html
    assert other.reference not in html
    assert other.sealed.sha256 not in html


def test_the_officer_downloads_on_the_web_with_a_verified_session(client, delivery):
    log_in(client, delivery.officer.user)

    answer = client.post(f"/responses/{delivery.sealed.pk}/download/")

    assert answer.status_code == 200
    assert answer["Content-Disposition"] == f'attachment; filename="{delivery.reference}.age"'
    assert body_of(answer) == delivery.sealed.file.read()
    event = AuditEvent.objects.order_by("-seq").first()
    assert (event.action, event.data["channel"]) == ("response.downloaded", "web")
    assert "api_token" not in event.data


def test_the_web_download_needs_post_with_the_csrf_token_of_the_page(client, delivery):
    log_in(client, delivery.officer.user)
    browser = Client(enforce_csrf_checks=True)
    browser.cookies.update(client.cookies)  # the same verified session, CSRF enforced
    before = delivery_state()

    by_get = browser.get(f"/responses/{delivery.sealed.pk}/download/")
    forged = browser.post(f"/responses/{delivery.sealed.pk}/download/")

    assert by_get.status_code == 405
    assert forged.status_code == 403
    assert AGE_MAGIC not in by_get.content + forged.content
    assert_unchanged(before, delivery)

    # The page's own form carries the token, and its button downloads.
    page = browser.get("/responses/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    answer = browser.post(
        f"/responses/{delivery.sealed.pk}/download/", {"csrfmiddlewaretoken": token}
    )
    assert answer.status_code == 200
    assert body_of(answer) == delivery.sealed.file.read()


def test_another_agencys_officer_gets_404_on_the_web(client, delivery):
    log_in(client, make_officer().user)
    before = delivery_state()

    answer = client.post(f"/responses/{delivery.sealed.pk}/download/")

    assert answer.status_code == 404
    assert AGE_MAGIC not in answer.content
    assert delivery.reference not in client.get("/responses/").content.decode()
    assert_unchanged(before, delivery)


def test_an_expired_response_on_the_web_is_a_410_page_without_a_download_button(client, delivery):
    SealedResponse.objects.filter(pk=delivery.sealed.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    log_in(client, delivery.officer.user)
    before = delivery_state()

    answer = client.post(f"/responses/{delivery.sealed.pk}/download/")
    page = client.get("/responses/").content.decode()

    assert answer.status_code == 410
    assert AGE_MAGIC not in answer.content
    assert "no longer available" in answer.content.decode()
    assert "Expired" in page
    assert f'action="/responses/{delivery.sealed.pk}/download/"' not in page
    assert_unchanged(before, delivery)


def decrypt_config(page) -> dict:
    html = page.content.decode()
    found = re.search(r'<script id="decrypt-config" type="application/json">(.*?)</script>', html)
    assert found, html
    return json.loads(found.group(1))


def test_the_page_that_opens_a_response_in_the_browser_downloads_nothing_itself(client, delivery):
    log_in(client, delivery.officer.user)
    sealed = delivery.sealed
    before = delivery_state()

    listing = client.get("/responses/").content.decode()
    page = client.get(f"/responses/{sealed.pk}/decrypt/")

    assert f'href="/responses/{sealed.pk}/decrypt/"' in listing
    assert page.status_code == 200
    assert AGE_MAGIC not in page.content
    config = decrypt_config(page)
    assert config["download_url"] == f"/responses/{sealed.pk}/download/"
    assert (config["size"], config["sha256"], config["recipients"]) == (
        sealed.size,
        sealed.sha256,
        [str(delivery.identity.to_public())],
    )
    assert config["portal_key"]["key_id"] == crypto.portal_public_key_document()["key_id"]
    # The identity is chosen with a file input outside any form: nothing can post it.
    html = page.content.decode()
    assert '<input type="file" id="identity-file"' in html
    assert not re.search(r"<form[^>]*>(?:(?!</form>).)*type=\"file\"", html, flags=re.DOTALL)
    assert delivery_state() == before  # opening the page is not a download


def test_another_agencys_officer_gets_404_for_the_page_that_opens_a_response(client, delivery):
    log_in(client, make_officer().user)
    answer = client.get(f"/responses/{delivery.sealed.pk}/decrypt/")
    assert answer.status_code == 404
    assert delivery.sealed.sha256 not in answer.content.decode()


def test_the_page_that_opens_an_expired_response_is_a_410_page(client, delivery):
    SealedResponse.objects.filter(pk=delivery.sealed.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    log_in(client, delivery.officer.user)
    answer = client.get(f"/responses/{delivery.sealed.pk}/decrypt/")
    assert answer.status_code == 410
    assert "no longer available" in answer.content.decode()
    assert 'id="decrypt-config"' not in answer.content.decode()


# --- The published description -------------------------------------------------------------


def test_the_openapi_schema_describes_both_endpoints(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()

    listing = schema["paths"]["/api/v1/submissions/{reference}/responses"]["get"]
    download = schema["paths"]["/api/v1/responses/{response_id}/download"]["get"]
    item = listing["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"]
    fields = schema["components"]["schemas"][item.rsplit("/", 1)[1]]["properties"]
    assert set(fields) >= {"id", "size", "sha256", "created_at", "expires_at", "available"}
    assert "application/octet-stream" in download["responses"]["200"]["content"]
    assert {"401", "403", "404", "410"} <= set(download["responses"])


def test_the_request_page_offers_the_response_to_its_officer(client, delivery):
    log_in(client, delivery.officer.user)

    html = client.get(f"/requests/mine/{delivery.reference}/").content.decode()

    assert 'id="responses"' in html
    assert f"/responses/{delivery.sealed.pk}/decrypt/" in html
    assert f"/responses/{delivery.sealed.pk}/download/" in html
    assert delivery.sealed.sha256 in html
    # Showing the page downloads nothing.
    assert not AuditEvent.objects.filter(action="response.downloaded").exists()


def test_a_request_without_a_response_has_no_response_section(client):
    from tests.requests_app.delivery_helpers import approved_decision

    _, officer, _ = approved_decision(client)
    log_in(client, officer.user)
    reference = officer.requests.get().reference

    html = client.get(f"/requests/mine/{reference}/").content.decode()

    assert 'id="responses"' not in html

"""The OpenAPI schema and its docs page, the Content Security Policy, and /healthz."""

import json
import re
from html.parser import HTMLParser
from typing import Any
from unittest import mock

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.db import OperationalError, connection
from django.test import Client

DOCS_SCRIPT_URL = "/api/v1/docs?script="


class AssetCollector(HTMLParser):
    """Collect every script src, link href and the text of inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self._in_script = True
            if attributes.get("src") is not None:
                self.urls.append(attributes["src"] or "")
        elif tag == "link" and attributes.get("href") is not None:
            self.urls.append(attributes["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_schema_is_openapi_3_and_needs_no_login(client: Client) -> None:
    response = client.get("/api/v1/schema")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]


def test_schema_is_also_served_as_json(client: Client) -> None:
    response = client.get("/api/v1/schema", {"format": "json"})

    assert response.status_code == 200
    assert json.loads(response.content)["openapi"].startswith("3.")


def test_the_strict_request_schemas_are_described_for_their_readers(client: Client) -> None:
    # drf-spectacular describes a schema without a docstring of its own by its nearest
    # ancestor's: StrictSerializer's docstring is what API readers see on the envelope and
    # its parts, so notes on how it runs belong in comments, not there.
    schemas = yaml.safe_load(client.get("/api/v1/schema").content)["components"]["schemas"]
    strict = "A serializer that refuses fields it does not declare, and values of another type."
    for name in ("EnvelopeRequest", "PayloadRequest", "SignatureRequest", "MessageInRequest"):
        assert " ".join(schemas[name]["description"].split()) == strict, name
        assert schemas[name]["additionalProperties"] is False, name


def test_docs_page_loads_only_same_origin_static_assets(client: Client) -> None:
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert not re.search(r"https?://", page)
    collector = AssetCollector()
    collector.feed(page)
    assert collector.inline_scripts == []
    assert DOCS_SCRIPT_URL in collector.urls
    static_urls = [url for url in collector.urls if url != DOCS_SCRIPT_URL]
    assert static_urls  # the Swagger UI bundle, preset and stylesheet
    for url in static_urls:
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), f"{url} is not a static file"


def test_docs_init_script_is_served_as_javascript(client: Client) -> None:
    response = client.get(DOCS_SCRIPT_URL)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"/api/v1/schema" in response.content
    assert not re.search(rb"https?://", response.content)


def test_html_pages_carry_a_strict_content_security_policy(client: Client) -> None:
    response = client.get("/login/")

    header = response["Content-Security-Policy"]
    assert "default-src 'self'" in header
    assert "object-src 'none'" in header
    assert "frame-ancestors 'none'" in header
    assert "'unsafe-inline'" not in csp_directives(header)["script-src"]


@pytest.mark.django_db
def test_healthz_reports_the_database_and_an_eager_broker(client: Client, settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the development default: no broker

    response = client.get("/healthz")

    assert response.status_code == 200
    report = json.loads(response.content)
    assert report["status"] == "ok"
    assert report["database"]["ok"] is True
    assert report["broker"] == {
        "ok": True,
        "mode": "eager",
        "detail": "no broker: tasks run in-process",
    }


@pytest.mark.django_db
def test_healthz_is_unavailable_when_the_broker_does_not_answer(
    client: Client, settings: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.HEALTHZ_BROKER_TIMEOUT = 1

    response = client.get("/healthz")

    assert response.status_code == 503
    report = json.loads(response.content)
    assert report["status"] == "unavailable"
    assert report["broker"]["ok"] is False
    assert report["broker"]["mode"] == "redis"
    assert report["database"]["ok"] is True


@pytest.mark.django_db
def test_healthz_is_unavailable_when_the_database_fails(client: Client, settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    down = OperationalError("the database is down")

    with mock.patch.object(connection, "cursor", side_effect=down):
        response = client.get("/healthz")

    assert response.status_code == 503
    report = json.loads(response.content)
    assert report["status"] == "unavailable"
    assert report["database"] == {
        "ok": False,
        "vendor": connection.vendor,
        "error": "OperationalError",
    }
    assert report["broker"]["ok"] is True

"""Shared fixtures: service gates, subprocess environments, the users every package uses.

Tests that need a real service use the ``postgres`` or ``redis_url`` fixture. Without
the service they skip with the reason; with ``REQUIRE_SERVICES=1`` (CI) they fail
instead, so a CI run can never pass by skipping them.
"""

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


def service_missing(reason: str) -> None:
    """Skip the test, or fail it when REQUIRE_SERVICES=1."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs_commands(*names): runs these programs; skipped when one is not on PATH, "
        "failed instead under REQUIRE_SERVICES=1",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("needs_commands"):
        missing = [name for name in marker.args if shutil.which(name) is None]
        if missing:
            service_missing(f"needs {', '.join(missing)} on PATH (apt-get install age openssl)")


@pytest.fixture
def postgres(db: None) -> None:
    """Require the test database to be PostgreSQL."""
    if connection.vendor != "postgresql":
        service_missing(
            f"needs PostgreSQL; the test database is {connection.vendor} "
            "(set DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal)"
        )


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Return the URL of a Redis that answers PING."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing(f"needs Redis at {url} ({type(exc).__name__}); set TEST_REDIS_URL")
    return url


def subprocess_database_url() -> str:
    """Return a DATABASE_URL that points another process at this test database."""
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("only a PostgreSQL test database can be shared with a subprocess")
    password = s.get("PASSWORD") or ""
    return (
        f"postgres://{s.get('USER') or ''}:{password}@{s.get('HOST') or '127.0.0.1'}:"
        f"{s.get('PORT') or 5432}/{s['NAME']}"
    )


@pytest.fixture
def subprocess_env(postgres: None) -> dict[str, str]:
    """Environment for a portal process (worker, script) sharing the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_MODE="development",
        DATABASE_URL=subprocess_database_url(),
        PYTHONPATH=str(ROOT),
    )
    env.pop("CELERY_BROKER_URL", None)
    return env


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Each test starts with empty rate-limit counters (the cache is process-wide)."""
    from django.core.cache import cache

    cache.clear()


# --- Users, the same in every package -----------------------------------------------------
# A test that needs another kind of user makes it itself, or a package's conftest.py
# offers it under its own name.


@pytest.fixture
def officer():
    """An active officer of a verified agency, with a confirmed TOTP app."""
    from tests.factories import make_officer

    return make_officer()


@pytest.fixture
def officer_client(client, officer):
    """The test client, logged in as ``officer`` through the pages (password, then TOTP)."""
    from tests.factories import log_in

    log_in(client, officer.user)
    return client


@pytest.fixture
def admin():
    """A vetting administrator with a confirmed TOTP app: Vera Vetting."""
    from tests.factories import make_vetting_admin

    return make_vetting_admin(full_name="Vera Vetting", email="vera@platform.example")


@pytest.fixture
def admin_client(client, admin):
    """The test client, logged in as ``admin`` (replaces pytest-django's superuser client)."""
    from tests.factories import log_in

    log_in(client, admin)
    return client


@pytest.fixture(autouse=True)
def demo_files_dir(settings, tmp_path_factory) -> Path:
    """``seed_demo`` writes the demo case system here, never into the developer's var/demo/."""
    directory = tmp_path_factory.mktemp("demo")
    settings.DEMO_FILES_DIR = directory
    return directory

"""Production settings refuse to start without their secrets and pass check --deploy."""

import base64
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, service_missing

PRODUCTION_ENV = {
    "PORTAL_MODE": "production",
    "SECRET_KEY": "k8V2q-not-a-real-secret-but-long-and-varied-3f9Zx7Lw0Pq5Rt1Yu6Io2Ep4",
    "ALLOWED_HOSTS": "portal.example",
    "PORTAL_AUDIENCE": "https://portal.example",
    "DATABASE_URL": "postgres://portal:secret@db.internal:5432/portal",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.internal:587",
    "PORTAL_SIGNING_KEY_FILE": str(ROOT / "var" / "test-production-signing-key.pem"),
    "PORTAL_STORAGE_KEY_FILE": str(ROOT / "var" / "test-production-storage-key.txt"),
    "TOTP_SEED_KEY_FILE": str(ROOT / "var" / "test-production-totp-seed-key.txt"),
    # Production has no default and cannot use the demonstration directory.
    "PLATFORM_DATA_SOURCE": "http",
}
# Settings the system checks ask for, rather than the start (not "X is not set").
CHECKED_NOT_REQUIRED = {"PORTAL_MODE"}


@pytest.fixture(autouse=True, scope="module")
def production_signing_key() -> None:
    """A real Ed25519 key where PRODUCTION_ENV says, made with openssl as an operator would."""
    path = ROOT / "var" / "test-production-signing-key.pem"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        subprocess.run(  # noqa: S603
            ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(path)],  # noqa: S607
            check=True,
        )
    storage_key = ROOT / "var" / "test-production-storage-key.txt"
    if not storage_key.exists():
        if shutil.which("age-keygen") is None:
            service_missing("needs Debian's age-keygen (apt-get install age)")
        subprocess.run(  # noqa: S603
            ["age-keygen", "-o", str(storage_key)],  # noqa: S607
            check=True,
            capture_output=True,
        )
    totp_key = ROOT / "var" / "test-production-totp-seed-key.txt"
    if not totp_key.exists():
        totp_key.write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
    # As an operator leaves them: readable by the portal's user only (portal.E007).
    for key_file in (path, storage_key, totp_key):
        key_file.chmod(0o600)


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT)}
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_check_deploy_with_no_warning() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("missing", sorted(set(PRODUCTION_ENV) - CHECKED_NOT_REQUIRED))
def test_production_refuses_to_start_without_a_secret_and_names_it(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} is not set" in result.stderr


def test_production_refuses_the_demonstration_directory() -> None:
    result = manage("check", env=PRODUCTION_ENV | {"PLATFORM_DATA_SOURCE": "directory"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "demonstration directory" in result.stderr


def test_production_rejects_a_plain_http_audience() -> None:
    env = PRODUCTION_ENV | {"PORTAL_AUDIENCE": "http://portal.example"}
    result = manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "portal.E001" in result.stderr


def test_production_refuses_a_missing_signing_key_file() -> None:
    env = PRODUCTION_ENV | {"PORTAL_SIGNING_KEY_FILE": "/nonexistent/signing-key.pem"}
    result = manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "portal.E004" in result.stderr


@pytest.mark.parametrize("content", [None, "AGE-SECRET-KEY-1NOTAKEY\n", "not a key at all\n"])
def test_production_refuses_a_missing_or_broken_storage_key_file(tmp_path, content) -> None:
    path = tmp_path / "storage-key.txt"
    if content is not None:
        path.write_text(content)
    env = PRODUCTION_ENV | {"PORTAL_STORAGE_KEY_FILE": str(path)}
    result = manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "portal.E005" in result.stderr


def test_production_rejects_sqlite() -> None:
    env = PRODUCTION_ENV | {"DATABASE_URL": "sqlite:////tmp/portal.sqlite3"}
    result = manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "portal.E003" in result.stderr


def test_an_unknown_mode_is_refused() -> None:
    result = manage("check", env={"PORTAL_MODE": "staging"})
    assert result.returncode != 0
    assert "PORTAL_MODE must be 'development' or 'production'" in result.stderr


def test_production_cookies_are_host_prefixed_secure_and_sessions_idle_out() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.SESSION_SAVE_EVERY_REQUEST, s.SESSION_COOKIE_AGE, s.DEBUG,"
        " s.PASSWORD_HASHERS[0].rsplit('.', 1)[1], s.SECURE_HSTS_SECONDS > 0)"
    )
    result = manage("shell", "--no-imports", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "__Host-portal_session",
        "__Host-portal_csrf",
        "True",
        "True",
        "True",
        "1800",
        "False",
        "Argon2PasswordHasher",
        "True",
    ]


def test_every_environment_variable_the_settings_read_is_documented() -> None:
    import re

    source = (ROOT / "portal" / "settings.py").read_text()
    read = set(re.findall(r'(?:env\.\w+|required)\(\s*"([A-Z][A-Z0-9_]+)"', source))
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    assert read, "the pattern found no variables"
    assert read - documented == set()


@pytest.mark.parametrize(
    ("email_url", "delivered"),
    [("consolemail://", "Subject: a production email"), ("smtp://127.0.0.1:9", "")],
)
def test_production_mail_works_with_any_email_url_backend(email_url: str, delivered: str) -> None:
    """The SMTP options go to the SMTP backend only: another backend sends, not refuses."""
    code = (
        "from django.core.mail import send_mail;"
        "send_mail('a production email', 'body', None, ['officer@polizei.example.de'])"
    )
    result = manage(
        "shell", "--no-imports", "-c", code, env=PRODUCTION_ENV | {"EMAIL_URL": email_url}
    )
    assert "InvalidMailer" not in result.stderr
    if delivered:
        assert result.returncode == 0, result.stderr
        assert delivered in result.stdout
    else:  # nothing listens on port 9: the SMTP backend got its options and tried to connect
        assert "ConnectionRefusedError" in result.stderr


def test_a_deployed_development_process_wants_the_platform_data_source_chosen() -> None:
    """Unset, disclosures would silently come from the demo's own table.

    Production refuses to start without it (above); a development-mode process checked
    for deployment (DEBUG off) is told so by portal.E006.
    """
    env = {"PORTAL_MODE": "development", "DJANGO_DEBUG": "false"}
    result = manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "portal.E006" in result.stderr


@pytest.mark.parametrize(
    "setting", ["PORTAL_SIGNING_KEY_FILE", "PORTAL_STORAGE_KEY_FILE", "TOTP_SEED_KEY_FILE"]
)
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_production_refuses_a_key_file_open_to_group_or_others(tmp_path, setting, mode) -> None:
    copy = tmp_path / "key"
    copy.write_bytes((ROOT / "var" / PRODUCTION_ENV[setting].rsplit("/", 1)[1]).read_bytes())
    copy.chmod(mode)
    result = manage("check", "--deploy", env=PRODUCTION_ENV | {setting: str(copy)})
    assert result.returncode != 0
    assert "portal.E007" in result.stderr
    assert setting in result.stderr


def test_production_refuses_a_missing_or_broken_totp_seed_key(tmp_path) -> None:
    broken = tmp_path / "totp-seed-key.txt"
    broken.write_text("not base64 at all!\n")
    broken.chmod(0o600)
    for path in (tmp_path / "absent.txt", broken):
        result = manage("check", "--deploy", env=PRODUCTION_ENV | {"TOTP_SEED_KEY_FILE": str(path)})
        assert result.returncode != 0
        assert "portal.E008" in result.stderr


def test_an_age_tool_that_is_not_there_stops_manage_py_in_every_mode(tmp_path) -> None:
    """portal.E009 is no deploy check: runserver and migrate stop on it too."""
    missing = str(tmp_path / "bin" / "age")
    for env in ({}, PRODUCTION_ENV):
        result = manage("check", env=env | {"AGE_TOOL": missing})
        assert result.returncode != 0
        assert "portal.E009" in result.stderr
        assert missing in result.stderr
    # Empty: sealed with pyrage, and nothing to report.
    result = manage("check", env={"AGE_TOOL": ""})
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_without_the_age_tool_is_warned_by_check_deploy() -> None:
    """The pyrage fallback is for developer machines: check --deploy names it in production."""
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV | {"AGE_TOOL": ""}
    )
    assert result.returncode != 0
    assert "portal.W001" in result.stderr
    assert manage("check", env={"AGE_TOOL": ""}).returncode == 0  # development: no warning


def test_without_the_age_tool_on_path_the_portal_seals_with_pyrage(tmp_path) -> None:
    """A fresh developer machine (no age package): AGE_TOOL is empty and nothing complains."""
    shown = "from django.conf import settings; print(repr(settings.AGE_TOOL))"
    without = manage("shell", "--no-imports", "-c", shown, env={"PATH": str(tmp_path)})
    assert without.returncode == 0, without.stdout + without.stderr
    assert without.stdout.strip() == "''"
    assert manage("check", env={"PATH": str(tmp_path)}).returncode == 0
    if shutil.which("age", path="/usr/bin:/bin") is None:
        service_missing("needs Debian's age (apt-get install age)")
    with_age = manage("shell", "--no-imports", "-c", shown, env={})
    assert with_age.stdout.strip() == repr(shutil.which("age", path="/usr/bin:/bin"))

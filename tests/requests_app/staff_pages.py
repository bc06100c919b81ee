"""What the staff pages' tests share (intake's rejections, the policy editor).

Rejections written straight into the log, and the check that everyone but a verified
vetting administrator is refused a page and changes nothing by trying.
"""

from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from accounts.models import Role
from portal.models import AuditEvent
from requests_app.intake.models import IntakeRejection
from requests_app.policy.models import PolicyRule
from tests.factories import PASSWORD, log_in, make_officer, make_passkey, make_user

# Who is refused the staff pages: everyone but a vetting administrator past the second factor.
REFUSED = ["anonymous", "officer", "reviewer", "password-only admin"]


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def reject(n: int, *, day: date, code: str, agency=None, ip=None, channel="api", officer=None):
    IntakeRejection.objects.bulk_create(
        IntakeRejection(
            at=noon(day) + timedelta(seconds=i),
            channel=channel,
            code=code,
            status=401 if code in ("bad_signature", "unknown_key", "unauthenticated") else 400,
            officer=officer,
            agency=agency,
            key_id="ed25519:" + "ab" * 32 if code in ("bad_signature", "unknown_key") else "",
            ip=ip,
            body_sha256=f"{i:064x}",
        )
        for i in range(n)
    )


def policy_state() -> dict:
    return {
        "rules": sorted(
            PolicyRule.objects.values_list(
                "pk",
                "country",
                "kind",
                "allowed",
                "deadline_hours",
                "max_period_days",
                "document_required",
                "updated_at",
            )
        ),
        "audit": sorted(
            AuditEvent.objects.exclude(action__startswith="auth.").values_list("seq", "action")
        ),
    }


def assert_refused_to_all_but_a_verified_vetting_admin(
    client, admin, who: str, endpoints: list[tuple[str, str, dict]]
) -> None:
    """Log ``client`` in as ``who`` (one of ``REFUSED``); every endpoint refuses it.

    Nothing of a staff page is shown (a rejection's address, the policy menu) and neither
    the policy nor the audit chain changes.
    """
    reject(3, day=timezone.now().date(), code="bad_signature", ip="203.0.113.9")
    if who == "officer":
        officer = make_officer()
        make_passkey(officer.user)
        log_in(client, officer.user)
    elif who == "reviewer":
        log_in(client, make_user(role=Role.REVIEWER))
    elif who == "password-only admin":
        client.post("/login/", {"username": admin.email, "password": PASSWORD})
        assert "_auth_user_id" in client.session
    before = policy_state()

    for method, url, data in endpoints:
        response = getattr(client, method)(url, data)

        if who in ("officer", "reviewer"):
            assert response.status_code == 403, (method, url)
        elif who == "password-only admin":
            assert response.status_code == 302, (method, url)
            assert response["Location"].startswith("/login/verify/"), (method, url)
        else:
            assert response.status_code == 302, (method, url)
            assert response["Location"].startswith("/login/"), (method, url)
        page = response.content.decode()
        assert "203.0.113.9" not in page
        assert "Jurisdiction policy" not in page

    assert policy_state() == before

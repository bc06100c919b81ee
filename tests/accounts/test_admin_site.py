"""The Django admin: entered through the portal's login only, and a read-only view of accounts.

Attacks go through the admin's own addresses as a logged-in vetting administrator (and as a
superuser): each is refused, and nothing is changed, stored or granted.
"""

import base64
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.demo import seed_demo_accounts
from accounts.models import AuthFailure, Role, User
from accounts.services.factors import backup_codes_generate
from portal.models import AuditEvent
from tests.audit_marks import audit_mark
from tests.factories import PASSWORD, log_in, make_officer, make_user, make_vetting_admin

pytestmark = pytest.mark.django_db


def without_csrf_token(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def logged_in_as(client) -> str | None:
    return client.session.get("_auth_user_id")


def user_state(user: User) -> tuple:
    user.refresh_from_db()
    return (
        user.email,
        user.full_name,
        user.role,
        user.is_active,
        user.is_staff,
        user.is_superuser,
        user.password,
        user.user_permissions.count(),
        user.groups.count(),
    )


def factor_state(user: User) -> tuple:
    return (
        list(TOTPDevice.objects.filter(user=user).values_list("pk", "key", "confirmed")),
        list(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)),
        StaticDevice.objects.filter(user=user).count(),
    )


@pytest.fixture
def vetting_admin():
    return make_vetting_admin(is_staff=True)


@pytest.fixture(params=["vetting admin", "superuser"])
def admin_user(request):
    return make_vetting_admin(is_staff=True, is_superuser=request.param == "superuser")


# --- The admin's own login ------------------------------------------------------------------


def test_passwords_posted_to_the_admin_login_never_log_anyone_in(client, vetting_admin) -> None:
    before = audit_mark()

    answers = [
        client.post("/admin/login/", {"username": vetting_admin.email, "password": guess})
        for guess in [f"guess {n}" for n in range(12)] + [PASSWORD]
    ]

    # Every answer, right password or wrong, is the same trip to the portal's login.
    assert {(a.status_code, a["Location"]) for a in answers} == {(302, "/login/")}
    assert logged_in_as(client) is None
    assert AuditEvent.objects.filter(seq__gt=before).count() == 0
    # The portal's login still answers, and its lockout is untouched.
    assert AuthFailure.objects.count() == 0
    response = client.post("/login/", {"username": vetting_admin.email, "password": PASSWORD})
    assert response["Location"] == "/login/verify/"


def test_a_logged_in_user_cannot_test_someone_elses_password_at_the_admin_login(
    client, vetting_admin
) -> None:
    officer = make_officer()
    log_in(client, officer.user)
    before = audit_mark()

    wrong, right = (
        client.post("/admin/login/", {"username": vetting_admin.email, "password": password})
        for password in ("Summer2024!", PASSWORD)
    )

    assert wrong.status_code == right.status_code == 403
    assert without_csrf_token(wrong) == without_csrf_token(right)
    assert logged_in_as(client) == str(officer.user.pk)
    assert AuditEvent.objects.filter(seq__gt=before).count() == 0


def test_the_portal_lock_holds_whatever_is_posted_to_the_admin_login(
    client, vetting_admin, settings
) -> None:
    settings.LOCKOUT_ACCOUNT_FAILURES = 5
    for _ in range(5):
        client.post("/login/", {"username": vetting_admin.email, "password": "guess"})

    client.post("/admin/login/", {"username": vetting_admin.email, "password": PASSWORD})
    response = client.post("/login/", {"username": vetting_admin.email, "password": PASSWORD})

    assert "Too many failed attempts" in response.content.decode()
    assert logged_in_as(client) is None


def test_an_anonymous_visit_to_the_admin_ends_at_the_portal_login(client) -> None:
    for path in ["/admin/", "/admin/login/?next=/admin/", "/admin/accounts/user/"]:
        response = client.get(path, follow=True)

        assert response.redirect_chain[-1][0].startswith("/login/?next="), path
        assert response.templates[0].name == "accounts/login.html", path


def test_a_verified_vetting_admin_at_the_admin_login_is_sent_on_and_never_elsewhere(
    client, vetting_admin
) -> None:
    log_in(client, vetting_admin)

    inside = client.get("/admin/login/?next=/admin/accounts/user/")
    outside = client.get("/admin/login/?next=https://attacker.example/admin/")

    assert inside["Location"] == "/admin/accounts/user/"
    assert outside["Location"] == "/admin/"


def test_a_verified_user_who_is_not_an_admin_is_refused_the_admin(client) -> None:
    for user in (make_user(role=Role.REVIEWER), make_officer().user):
        client.post("/logout/")
        log_in(client, user)

        response = client.get("/admin/", follow=True)

        assert response.status_code == 403
        assert response.redirect_chain[-1][0].startswith("/admin/login/")


def test_the_admin_logout_is_the_portals_audited_logout(client, vetting_admin) -> None:
    log_in(client, vetting_admin)

    response = client.post("/admin/logout/")

    assert response.status_code == 302
    assert logged_in_as(client) is None
    assert AuditEvent.objects.filter(action="auth.logout", actor=vetting_admin).count() == 1


def test_the_admin_password_change_is_the_portals(client, vetting_admin) -> None:
    log_in(client, vetting_admin)
    password = user_state(vetting_admin)[6]

    for path in ["/admin/password_change/", "/admin/password_change/done/"]:
        response = client.post(
            path,
            {"old_password": PASSWORD, "new_password1": "x" * 20, "new_password2": "x" * 20},
        )
        assert (response.status_code, response["Location"]) == (302, "/account/password/"), path

    assert user_state(vetting_admin)[6] == password


# --- What the admin shows, and refuses to change ---------------------------------------------


def test_no_second_factor_and_no_group_is_in_the_admin(client, vetting_admin) -> None:
    officer = make_officer()
    backup_codes_generate(user=officer.user)
    device = TOTPDevice.objects.get(user=officer.user)
    log_in(client, vetting_admin)
    before = audit_mark()

    for model in (TOTPDevice, StaticDevice, WebAuthnCredential, Group):
        assert not admin.site.is_registered(model)
    for path in [
        "/admin/otp_totp/totpdevice/",
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
        f"/admin/otp_totp/totpdevice/{device.pk}/config/",
        f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/",
        "/admin/otp_static/staticdevice/",
        "/admin/otp_static/staticdevice/add/",
        "/admin/auth/group/",
    ]:
        assert client.get(path).status_code == 404, path
    added = client.post(
        "/admin/otp_static/staticdevice/add/",
        {"user": officer.user.pk, "name": "mine", "confirmed": "on", "token_set-0-token": "x"},
    )

    assert added.status_code == 404
    assert StaticDevice.objects.filter(user=officer.user).count() == 1
    assert AuditEvent.objects.filter(seq__gt=before).count() == 0
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    index = client.get("/admin/").content.decode()
    account = client.get(f"/admin/accounts/user/{officer.user.pk}/change/").content.decode()
    for page in (index, account):
        assert device.key not in page
        assert secret not in page


def test_the_vetting_admin_can_look_at_accounts_but_is_offered_no_change(
    client, vetting_admin
) -> None:
    officer = make_officer(full_name="Lena Fischer")
    log_in(client, vetting_admin)

    listing = client.get("/admin/accounts/user/")
    page = client.get(f"/admin/accounts/user/{officer.user.pk}/change/")

    assert listing.status_code == page.status_code == 200
    assert officer.user.email in listing.content.decode()
    text = page.content.decode()
    assert "Lena Fischer" in text
    assert 'name="_save"' not in text
    assert f"/admin/accounts/user/{officer.user.pk}/delete/" not in text
    assert "password/" not in text  # no link to set a password
    assert "/admin/accounts/user/add/" not in listing.content.decode()


@pytest.mark.parametrize(
    "attack",
    [
        "change role and standing",
        "set a password",
        "add an account",
        "delete the account",
    ],
)
def test_the_admin_changes_no_account(client, admin_user, attack) -> None:
    officer = make_officer()
    target = officer.user
    log_in(client, admin_user)
    before_target, before_admin = user_state(target), user_state(admin_user)
    before_factors, before_users, before = factor_state(target), User.objects.count(), audit_mark()
    base = f"/admin/accounts/user/{target.pk}"

    if attack == "change role and standing":
        response = client.post(
            f"{base}/change/",
            {
                "email": target.email,
                "full_name": "Taken Over",
                "role": Role.VETTING_ADMIN,
                "is_active": "on",
                "is_staff": "on",
                "is_superuser": "on",
            },
        )
        promoted = client.post(
            f"/admin/accounts/user/{admin_user.pk}/change/",
            {"email": admin_user.email, "full_name": "x", "role": Role.VETTING_ADMIN},
        )
        assert promoted.status_code == 403
    elif attack == "set a password":
        response = client.post(
            f"{base}/password/",
            {"password1": "attacker-chosen-1", "password2": "attacker-chosen-1"},
        )
    elif attack == "add an account":
        response = client.post(
            "/admin/accounts/user/add/",
            {
                "email": "plant@platform.example",
                "full_name": "Plant",
                "role": Role.REVIEWER,
                "password1": "attacker-chosen-1",
                "password2": "attacker-chosen-1",
            },
        )
    else:
        response = client.post(f"{base}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert user_state(target) == before_target
    assert user_state(admin_user) == before_admin
    assert factor_state(target) == before_factors
    assert User.objects.count() == before_users
    assert AuditEvent.objects.filter(seq__gt=before).count() == 0
    # The officer's own password still works; no other does.
    client.post("/logout/")
    assert target.check_password(PASSWORD)
    assert not target.check_password("attacker-chosen-1")


def test_a_totp_device_admin_would_not_show_the_secret(rf: RequestFactory) -> None:
    """OTP_ADMIN_HIDE_SENSITIVE_DATA, should django-otp's device admin ever come back."""
    user = make_user()
    device = TOTPDevice.objects.get(user=user)
    request = rf.get("/")
    request.user = make_vetting_admin(is_staff=True, is_superuser=True)

    device_admin = TOTPDeviceAdmin(TOTPDevice, admin.site)
    fields = [
        f for _, options in device_admin.get_fieldsets(request, device) for f in options["fields"]
    ]

    assert "key" not in fields
    assert "qrcode_link" not in fields


def test_the_demo_vetting_admin_is_staff_but_not_a_superuser(client) -> None:
    seed_demo_accounts()
    vetting = User.objects.get(email="vetting@platform.example")

    assert (vetting.is_staff, vetting.is_superuser) == (True, False)
    assert not User.objects.filter(is_superuser=True).exists()

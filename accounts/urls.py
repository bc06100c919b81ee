from django.urls import include, path

from .views import auth, factors, officer, password, preferences

urlpatterns = [
    path("login/", auth.login_view, name="login"),
    path("login/verify/", auth.login_verify, name="login-verify"),
    path("login/passkey/", auth.login_passkey, name="login-passkey"),
    path("login/passkey/begin/", auth.login_passkey_begin, name="login-passkey-begin"),
    path("login/passkey/complete/", auth.login_passkey_complete, name="login-passkey-complete"),
    path("logout/", auth.logout_view, name="logout"),
    path("account/factors/", factors.factors, name="factors"),
    path("account/factors/totp/", factors.totp_enrol, name="totp-enrol"),
    path("account/factors/passkey/", factors.passkey_enrol, name="passkey-enrol"),
    path("account/factors/backup-codes/", factors.backup_codes_renew, name="backup-codes-renew"),
    path("account/factors/confirm/", factors.factor_confirm, name="factor-confirm"),
    path(
        "account/factors/passkeys/<int:credential_pk>/remove/",
        factors.passkey_remove_view,
        name="passkey-remove",
    ),
    path("account/status/", officer.officer_status, name="officer-status"),
    path("account/preferences/", preferences.preferences, name="account-preferences"),
    path("account/password/", password.password_change_view, name="password-change"),
    path("password/reset/", password.password_reset_view, name="password-reset"),
    path(
        "password/reset/<str:uidb64>/<str:token>/",
        password.password_reset_confirm_view,
        name="password-reset-confirm",
    ),
    path("", include("accounts.urls_registration")),
    path("vetting/", include("accounts.urls_vetting")),
    path("agency/", include("accounts.urls_supervision")),
    path("account/", include("accounts.urls_keys")),
    # django-otp-webauthn's endpoints, routed to the portal's subclasses (audit, lockout,
    # session rotation) under the namespace the package's template tags reverse.
    path(
        "webauthn/",
        include(
            (
                [
                    path(
                        "registration/begin/",
                        factors.passkey_registration_begin,
                        name="credential-registration-begin",
                    ),
                    path(
                        "registration/complete/",
                        factors.passkey_registration_complete,
                        name="credential-registration-complete",
                    ),
                    path(
                        "authentication/begin/",
                        auth.passkey_verification_begin,
                        name="credential-authentication-begin",
                    ),
                    path(
                        "authentication/complete/",
                        auth.passkey_verification_complete,
                        name="credential-authentication-complete",
                    ),
                    path("jsi18n/", factors.passkey_js_catalog, name="js-i18n-catalog"),
                ],
                "otp_webauthn",
            )
        ),
    ),
]

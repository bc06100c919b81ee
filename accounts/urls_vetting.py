"""URLs of the vetting pages (platform administrators only; see accounts.views.vetting)."""

from django.urls import path

from .views import agency_domains, vetting

AGENCY_ACTIONS = ("reject", "suspend", "reinstate")
OFFICER_ACTIONS = ("reject", "suspend", "reinstate")
KEY_ACTIONS = ("reject", "revoke")

urlpatterns = [
    path("", vetting.queue, name="vetting-queue"),
    path("agencies/<int:agency_id>/", vetting.agency_detail, name="vetting-agency"),
    path(
        "agencies/<int:agency_id>/callbacks/",
        vetting.agency_callback,
        name="vetting-agency-callback",
    ),
    path(
        "agencies/<int:agency_id>/callback-number/",
        vetting.agency_callback_number,
        name="vetting-agency-callback-number",
    ),
    path("agencies/<int:agency_id>/verify/", vetting.agency_verify, name="vetting-agency-verify"),
    path(
        "agencies/<int:agency_id>/domains/",
        agency_domains.agency_domains,
        name="vetting-agency-domains",
    ),
    path(
        "agencies/<int:agency_id>/domains/<int:domain_id>/remove/",
        agency_domains.domain_remove,
        name="vetting-agency-domain-remove",
    ),
    path(
        "agencies/<int:agency_id>/domains/<int:domain_id>/subdomains/",
        agency_domains.domain_subdomains,
        name="vetting-agency-domain-subdomains",
    ),
    *(
        path(
            f"agencies/<int:agency_id>/{action}/",
            vetting.agency_decide,
            {"action": action},
            name=f"vetting-agency-{action}",
        )
        for action in AGENCY_ACTIONS
    ),
    path("officers/<int:officer_id>/", vetting.officer_detail, name="vetting-officer"),
    path(
        "officers/<int:officer_id>/callbacks/",
        vetting.officer_callback,
        name="vetting-officer-callback",
    ),
    path(
        "officers/<int:officer_id>/approve/",
        vetting.officer_approve,
        name="vetting-officer-approve",
    ),
    path(
        "officers/<int:officer_id>/supervisor/propose/",
        vetting.officer_supervisor_propose,
        name="vetting-officer-supervisor-propose",
    ),
    path(
        "officers/<int:officer_id>/supervisor/withdraw/",
        vetting.officer_supervisor_withdraw,
        name="vetting-officer-supervisor-withdraw",
    ),
    path(
        "officers/<int:officer_id>/supervisor/appoint/",
        vetting.officer_supervisor_appoint,
        name="vetting-officer-supervisor-appoint",
    ),
    *(
        path(
            f"officers/<int:officer_id>/{action}/",
            vetting.officer_decide,
            {"action": action},
            name=f"vetting-officer-{action}",
        )
        for action in OFFICER_ACTIONS
    ),
    *(
        route
        for kinds, name in (
            ("signing-keys", "vetting-signing-key"),
            ("signing-passkeys", "vetting-signing-passkey"),
            ("age-recipients", "vetting-age-recipient"),
        )
        for route in (
            path(f"{kinds}/<int:key_id>/", vetting.key_detail, {"kinds": kinds}, name=name),
            path(
                f"{kinds}/<int:key_id>/approve/",
                vetting.key_approve,
                {"kinds": kinds},
                name=f"{name}-approve",
            ),
            path(
                f"{kinds}/<int:key_id>/callbacks/",
                vetting.key_callback,
                {"kinds": kinds},
                name=f"{name}-callback",
            ),
            *(
                path(
                    f"{kinds}/<int:key_id>/{action}/",
                    vetting.key_decide,
                    {"kinds": kinds, "action": action},
                    name=f"{name}-{action}",
                )
                for action in KEY_ACTIONS
            ),
        )
    ),
]

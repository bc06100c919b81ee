"""URLs of an agency supervisor's pages about people and keys, under /agency/
(see accounts.views.supervision; the agency's requests are requests_app.supervisor's)."""

from django.urls import path

from .views import supervision

urlpatterns = [
    path("officers/", supervision.officers, name="supervisor-officers"),
    path(
        "officers/<int:officer_id>/suspend/",
        supervision.officer_suspend,
        name="supervisor-officer-suspend",
    ),
    path(
        "officers/<int:officer_id>/reinstatement/",
        supervision.officer_reinstatement,
        name="supervisor-officer-reinstatement",
    ),
    path(
        "officers/<int:officer_id>/vouch/",
        supervision.officer_vouch_view,
        name="supervisor-officer-vouch",
    ),
    path("keys/", supervision.keys, name="supervisor-keys"),
    *(
        path(
            f"keys/{kinds}/<int:key_id>/revoke/",
            supervision.key_revoke,
            {"kinds": kinds},
            name=f"supervisor-{kinds[:-1]}-revoke",
        )
        for kinds in ("signing-keys", "signing-passkeys", "age-recipients")
    ),
    path(
        "tokens/<int:token_id>/revoke/",
        supervision.token_revoke,
        name="supervisor-token-revoke",
    ),
]

"""URLs of an agency supervisor's pages about people and keys, under /agency/
(see accounts.views.supervision; the agency's requests are requests_app.supervisor's)."""

from django.urls import path

from .views import supervision

urlpatterns = [
    path("officers/", supervision.officers, name="supervisor-officers"),
    *(
        path(
            f"officers/<int:officer_id>/{act}/",
            supervision.officer_act,
            {"act": act},
            name=f"supervisor-officer-{act}",
        )
        for act in supervision.OFFICER_ACTS
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

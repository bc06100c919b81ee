"""URLs of an officer's keys and API tokens, under /account/."""

from django.urls import path

from .views import keys, tokens

urlpatterns = [
    path("keys/", keys.keys_overview, name="keys"),
    path("keys/signing/new/", keys.signing_key_add, name="signing-key-add"),
    path(
        "keys/signing/<int:key_pk>/revoke/",
        keys.signing_key_revoke_view,
        name="signing-key-revoke",
    ),
    path("keys/recipients/new/", keys.age_recipient_add, name="age-recipient-add"),
    path(
        "keys/recipients/<int:recipient_pk>/revoke/",
        keys.age_recipient_revoke_view,
        name="age-recipient-revoke",
    ),
    path("tokens/", tokens.api_tokens, name="api-tokens"),
    path("tokens/<int:token_pk>/revoke/", tokens.api_token_revoke_view, name="api-token-revoke"),
]

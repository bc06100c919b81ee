"""An officer's API tokens: create (shown once), list, revoke.

Open only to active officers of verified agencies in a session with a verified second
factor. Creating a token also needs that factor to have been used in the last minutes
(``accounts.step_up``, as for a change of factors): a token works without the second
factor, so a session cookie stolen hours ago must not be able to make one. The officer is
mailed about every new token. A new token's secret appears in the response to the POST
that created it and nowhere else: the page is never cached and the portal keeps only its
hash.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ..access import AuthedRequest, page_officer, role_required
from ..models import ApiToken, Officer, Role
from ..services.tokens import (
    DEFAULT_LIFETIME_DAYS,
    MAX_NAME_LENGTH,
    MIN_LIFETIME_DAYS,
    TokenNotFound,
    TokenRefused,
    api_token_create,
    api_token_get_for_officer,
    api_token_revoke,
    api_tokens_of_officer,
)
from ..step_up import second_factor_is_fresh


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME_LENGTH, strip=True)
    lifetime_days = forms.IntegerField(
        min_value=MIN_LIFETIME_DAYS,
        max_value=ApiToken.MAX_LIFETIME_DAYS,
        initial=DEFAULT_LIFETIME_DAYS,
    )


def _token_state(token: ApiToken, now) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= now:
        return "expired"
    return "active"


def _list_page(
    request: AuthedRequest, *, officer: Officer, form: ApiTokenForm, status: int = 200
) -> HttpResponse:
    now = timezone.now()
    tokens = [
        {"token": token, "state": _token_state(token, now)}
        for token in api_tokens_of_officer(officer=officer)
    ]
    return render(
        request,
        "accounts/tokens/list.html",
        {
            "form": form,
            "tokens": tokens,
            "max_days": ApiToken.MAX_LIFETIME_DAYS,
            "min_days": MIN_LIFETIME_DAYS,
        },
        status=status,
    )


@role_required(Role.OFFICER)
@never_cache
@require_http_methods(["GET", "POST"])
def api_tokens(request: AuthedRequest) -> HttpResponse:
    """List the officer's tokens; a POST creates one and shows its secret once."""
    officer = page_officer(request)
    if request.method == "POST" and not second_factor_is_fresh(request):
        # Nothing of the form is read: the officer confirms it is them, then comes back.
        messages.info(request, gettext("Confirm it is you, then create the token."))
        query = urlencode({"next": reverse("api-tokens")})
        return HttpResponseRedirect(reverse("factor-confirm") + "?" + query)
    form = ApiTokenForm(request.POST or None, initial={"lifetime_days": DEFAULT_LIFETIME_DAYS})
    if request.method == "POST" and form.is_valid():
        try:
            created = api_token_create(
                officer=officer,
                actor=request.user,
                name=form.cleaned_data["name"],
                lifetime_days=form.cleaned_data["lifetime_days"],
            )
        except TokenRefused as refusal:
            form.add_error(refusal.field or None, refusal.message)
        else:
            return render(
                request,
                "accounts/tokens/created.html",
                {
                    "token": created.token,
                    "secret": created.secret,
                    "me_url": request.build_absolute_uri(reverse("api-me")),
                },
            )
    return _list_page(request, officer=officer, form=form, status=400 if form.errors else 200)


@role_required(Role.OFFICER)
@never_cache
@require_http_methods(["POST"])
def api_token_revoke_view(request: AuthedRequest, token_pk: int) -> HttpResponse:
    """Revoke one of the officer's own tokens at once."""
    officer = page_officer(request)
    try:
        token = api_token_get_for_officer(officer=officer, token_pk=token_pk)
    except TokenNotFound:
        raise Http404 from None
    try:
        api_token_revoke(token=token, actor=request.user)
    except TokenRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            gettext("The token “%(name)s” (%(prefix)s…) is revoked.")
            % {"name": token.name, "prefix": token.prefix},
        )
    return HttpResponseRedirect(reverse("api-tokens"))

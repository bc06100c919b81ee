"""The officer's own pages while onboarding: where their account stands."""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from ..access import AuthedRequest, onboarding, role_required
from ..models import Officer, Role
from ..services.factors import factor_summary


@onboarding
@role_required(Role.OFFICER, Role.SUPERVISOR)
@never_cache
def officer_status(request: AuthedRequest) -> HttpResponse:
    """Show an officer each step between registration and being able to submit."""
    officer = Officer.objects.select_related("agency").get(user=request.user)
    summary = factor_summary(user=request.user)
    return render(
        request,
        "accounts/officer_status.html",
        {
            "officer": officer,
            "summary": summary,
            "factors_complete": summary.complete_for(request.user),
        },
    )

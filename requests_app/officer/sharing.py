"""Delegation: the submitting officer shares one request with named colleagues, and takes it back.

A request is private to the officer who submitted it (see ``selectors``). A live share lets
one named colleague of the same agency read it and write in its thread; withdrawing,
extending and re-sharing stay with the submitter. Colleagues are named by their official
address, not picked from a roster, so the page never lists an agency's staff.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Officer
from portal.audit import audit_append
from requests_app.lifecycle.models import LegalRequest, RequestShare
from requests_app.lifecycle.notify import REQUEST_SHARED, notify_on_commit
from requests_app.lifecycle.refusals import OfficerRefused

MAX_LIVE_SHARES = 20
NO_SUCH_COLLEAGUE = gettext_lazy("No active officer of your agency has this address.")


def request_share(*, request: LegalRequest, officer: Officer, colleague: Officer) -> RequestShare:
    """Let a colleague of the same agency read the request and reply in its thread."""
    with transaction.atomic():
        locked = LegalRequest.objects.select_for_update().get(pk=request.pk)
        if locked.officer_id != officer.pk or not officer.can_act:
            raise OfficerRefused(
                _("Only the officer who submitted the request can share it."), code="forbidden"
            )
        if colleague.pk == officer.pk:
            raise OfficerRefused(_("You already have this request."), code="malformed")
        if colleague.agency_id != locked.agency_id or not colleague.can_act:
            raise OfficerRefused(str(NO_SUCH_COLLEAGUE), code="malformed")
        live = RequestShare.objects.filter(request=locked, revoked_at__isnull=True)
        if live.filter(officer=colleague).exists():
            raise OfficerRefused(_("This colleague already has the request."))
        if live.count() >= MAX_LIVE_SHARES:
            raise OfficerRefused(f"A request is shared with at most {MAX_LIVE_SHARES} colleagues.")
        try:
            with transaction.atomic():
                share = RequestShare.objects.create(
                    request=locked, officer=colleague, granted_by=officer
                )
        except IntegrityError:
            raise OfficerRefused(_("This colleague already has the request.")) from None
        audit_append(
            actor=officer.user,
            action="request.shared",
            target=locked,
            data={
                "reference": locked.reference,
                "share_id": share.pk,
                "before": None,
                "after": {"officer_id": colleague.pk, "email": colleague.user.email},
            },
        )
        notify_on_commit([colleague.user.email], REQUEST_SHARED)
    return share


def request_unshare(*, share: RequestShare, officer: Officer) -> RequestShare:
    """Take a share back: the colleague no longer reads the request, at once."""
    with transaction.atomic():
        locked = LegalRequest.objects.select_for_update().get(pk=share.request_id)
        share = (
            RequestShare.objects.select_for_update()
            .select_related("officer__user")
            .get(pk=share.pk)
        )
        if locked.officer_id != officer.pk:
            raise OfficerRefused(
                _("Only the officer who submitted the request can take a share back."),
                code="forbidden",
            )
        if share.revoked_at is not None:
            raise OfficerRefused(_("This share was already taken back."))
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])
        audit_append(
            actor=officer.user,
            action="request.unshared",
            target=locked,
            data={
                "reference": locked.reference,
                "share_id": share.pk,
                "before": {"officer_id": share.officer_id, "email": share.officer.user.email},
                "after": None,
            },
        )
    return share

"""Reads of legal requests that carry a permission decision: the only way to reach one.

Who on the authority side may read a request (need to know, not the whole agency):

- the officer who submitted it, while they are an active officer of the request's agency;
- a colleague of the same agency with whom that officer shares it (a live
  ``RequestShare``), to read and reply.

The agency is the outer wall: nobody outside it ever reaches a request, and an officer
who moves to another agency leaves their old requests behind. Everyone else gets "not
found", never "forbidden", so a reference says nothing about whether it exists.
"""

from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from accounts.models import Officer
from accounts.selectors import officer_of  # noqa: F401  (re-exported)
from requests_app.lifecycle.models import LegalRequest, Message, RequestShare


class OfficerRole(StrEnum):
    """How an officer comes to see a request."""

    SUBMITTER = "submitter"
    DELEGATE = "delegate"


@dataclass(frozen=True)
class RequestAccess:
    """A request an officer reached through the gate, and what they may do with it."""

    request: LegalRequest
    officer: Officer
    role: OfficerRole

    @property
    def is_submitter(self) -> bool:
        return self.role == OfficerRole.SUBMITTER

    @property
    def may_reply(self) -> bool:
        """Both the submitter and a delegate write in the clarification thread."""
        return True

    @property
    def may_withdraw(self) -> bool:
        """Withdrawing is the issuing authority's act: the submitter's alone."""
        return self.is_submitter

    @property
    def may_share(self) -> bool:
        """Only the submitter widens or narrows the circle; a delegate cannot re-share."""
        return self.is_submitter

    @property
    def may_extend_preservation(self) -> bool:
        return self.is_submitter


def _live_share_of(officer: Officer) -> QuerySet[RequestShare]:
    return RequestShare.objects.filter(
        request=OuterRef("pk"), officer_id=officer.pk, revoked_at__isnull=True
    )


def request_list_for_officer(*, officer: Officer) -> QuerySet[LegalRequest]:
    """The requests the officer submitted or that a colleague shares with them, newest first."""
    if not officer.can_act:
        return LegalRequest.objects.none()
    return (
        LegalRequest.objects.filter(agency_id=officer.agency_id)
        .filter(Q(officer_id=officer.pk) | Q(Exists(_live_share_of(officer))))
        .select_related("officer__user")
        .order_by("-received_at", "-pk")
    )


def request_access_for_officer(*, officer: Officer, reference: str) -> RequestAccess:
    """One request the officer may read, with their role on it; else "not found"."""
    request = (
        request_list_for_officer(officer=officer)
        .select_related("agency")
        .prefetch_related("targets", "attachments")
        .filter(reference=reference)
        .first()
    )
    if request is None:
        raise Http404
    role = OfficerRole.SUBMITTER if request.officer_id == officer.pk else OfficerRole.DELEGATE
    return RequestAccess(request=request, officer=officer, role=role)


def request_get_for_officer(*, officer: Officer, reference: str) -> LegalRequest:
    """One request the officer may read; any other answers "not found", never "forbidden"."""
    return request_access_for_officer(officer=officer, reference=reference).request


def messages_for_officer(*, access: RequestAccess) -> QuerySet[Message]:
    """The clarification thread of a request reached through the gate, oldest first."""
    return (
        Message.objects.filter(request_id=access.request.pk)
        .select_related("author")
        .prefetch_related("documents")
    )


def shares_for_officer(*, access: RequestAccess) -> QuerySet[RequestShare]:
    """The live shares of a request, for its submitter; nobody else manages them."""
    if not access.may_share:
        return RequestShare.objects.none()
    return (
        RequestShare.objects.filter(request_id=access.request.pk, revoked_at__isnull=True)
        .select_related("officer__user")
        .order_by("granted_at", "pk")
    )


def share_get_for_officer(*, access: RequestAccess, share_id: int) -> RequestShare:
    """One live share of the request, for its submitter; anything else is "not found"."""
    share = shares_for_officer(access=access).filter(pk=share_id).first()
    if share is None:
        raise Http404
    return share


def share_received_by(*, access: RequestAccess) -> RequestShare | None:
    """The live share through which a delegate reads the request (who granted it, when)."""
    if access.is_submitter:
        return None
    return (
        RequestShare.objects.filter(
            request_id=access.request.pk, officer_id=access.officer.pk, revoked_at__isnull=True
        )
        .select_related("granted_by__user")
        .first()
    )


def colleague_for_share(*, officer: Officer, email: str) -> Officer | None:
    """The active officer of the same agency with this address, or ``None``.

    Named by address so that no page lists an agency's staff; another agency's officer
    is ``None`` like an unknown address.
    """
    colleague = (
        Officer.objects.select_related("user", "agency")
        .filter(agency_id=officer.agency_id, user__email__iexact=email.strip())
        .first()
    )
    if colleague is None or not colleague.can_act:
        return None
    return colleague

"""Every model of the app `requests_app`, defined in the stage that owns it.

Django loads an app's models from this module; the stages import from their own
`<stage>.models`, never from here (the layer contracts in `.importlinter` check it)."""

from requests_app.delivery.models import Disclosure, SealedResponse
from requests_app.intake.models import DraftDocument, IntakeRejection, SubmissionDraft
from requests_app.lifecycle.models import (
    Attachment,
    Channel,
    DataCategory,
    LegalRequest,
    Message,
    MessageAttachment,
    Offence,
    RequestKind,
    RequestShare,
    RequestTarget,
    ReviewState,
    TargetType,
)
from requests_app.policy.models import CountryPolicy, PolicyRule
from requests_app.review.models import (
    Assessment,
    AssessmentItem,
    Decision,
    EmergencyCallback,
    OnCallReviewer,
    RejectionReason,
    UserNotice,
)

__all__ = [
    "RequestKind",
    "DataCategory",
    "Offence",
    "TargetType",
    "Channel",
    "LegalRequest",
    "RequestTarget",
    "Attachment",
    "ReviewState",
    "Message",
    "MessageAttachment",
    "IntakeRejection",
    "SubmissionDraft",
    "DraftDocument",
    "PolicyRule",
    "CountryPolicy",
    "AssessmentItem",
    "Assessment",
    "RejectionReason",
    "Decision",
    "EmergencyCallback",
    "UserNotice",
    "OnCallReviewer",
    "Disclosure",
    "SealedResponse",
    "RequestShare",
]

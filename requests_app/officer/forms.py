"""Forms of the officer's request pages: only shape and length; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from requests_app.officer.services import MAX_MESSAGE_LENGTH, MAX_REASON_LENGTH


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Your message"),
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional, the reviewers read it)"),
        required=False,
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=_("I withdraw this request. This cannot be undone."), required=True
    )


class PreservationExtendForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the data must be kept longer (optional)"),
        required=False,
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(label=_("Extend the preservation. It can be extended only once."))


class ShareForm(forms.Form):
    email = forms.EmailField(
        label=_("Your colleague's official email address"),
        max_length=254,
        help_text=_("An active officer of your agency. They can read the request and reply."),
    )

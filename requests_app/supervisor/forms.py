"""The supervisor's one form about a request: a reply in the thread of a shared request."""

from django import forms
from django.utils.translation import gettext_lazy as _

from requests_app.supervisor.services import MAX_MESSAGE_LENGTH


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Your message to the platform"),
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )

"""What every form page shares: the error summary's list of (element id, message)."""

from django import forms
from django.utils.translation import gettext


def form_errors(form: forms.Form) -> list[tuple[str, str]]:
    """Return (element id, message) pairs for the error summary, in field order.

    A radio or checkbox group's anchor is its first input (Django's ``<id>_0``), so the
    summary's link moves the focus to a control, not to a label.
    """
    found: list[tuple[str, str]] = [("", str(message)) for message in form.non_field_errors()]
    for bound in form:
        anchor = bound.auto_id
        if isinstance(bound.field.widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
            anchor = f"{anchor}_0"
        found.extend(
            (anchor, gettext("%(field)s: %(message)s") % {"field": bound.label, "message": message})
            for message in bound.errors
        )
    return found

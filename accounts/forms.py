"""Forms of the accounts pages: they read and check input; services decide and write."""

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import phonenumbers
from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.countries import countries_by_name, country_name, name_key

from .domains import DomainError, canonical_email, normalise_domain, official_domain_problem
from .models import Agency, Role, User
from .services.registration import AgencyProposal, registration_refusals

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
else:
    StrOrPromise = str

NEW_AGENCY = "new"


def _text(
    label: StrOrPromise, *, max_length: int, autocomplete: str, **kwargs: Any
) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        widget=forms.TextInput(attrs={"autocomplete": autocomplete}),
        **kwargs,
    )


def agency_choices() -> list[tuple[StrOrPromise, Any]]:
    """Verified agencies grouped by country name, then the choice to propose a new one."""
    by_country: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for agency in Agency.objects.filter(status=Agency.Status.VERIFIED).order_by("name"):
        by_country[country_name(agency.country)].append((str(agency.pk), agency.name))
    groups: list[tuple[StrOrPromise, Any]] = [("", _("Choose your agency"))]
    groups += [(country, by_country[country]) for country in sorted(by_country, key=name_key)]
    groups.append((_("Not listed"), [(NEW_AGENCY, _("My agency is not listed: propose it"))]))
    return groups


def e164(value: str) -> str:
    """Return a phone number in E.164 form, or raise ``ValidationError``."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _(
                "Enter the number in international form with its country code, such as "
                "+49 30 1234567."
            ),
            code="phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class RegistrationForm(forms.Form):
    """An officer's registration: who they are, their official address, their agency."""

    full_name = _text(_("Full name"), max_length=200, autocomplete="name")
    title = _text(
        _("Title or rank"),
        max_length=120,
        autocomplete="organization-title",
        help_text=_("For example Detective Inspector, Public Prosecutor, Court Clerk."),
    )
    badge_number = _text(_("Badge or staff number"), max_length=60, autocomplete="off")
    as_supervisor = forms.BooleanField(
        label=_("I register as my agency's supervisor"),
        required=False,
        help_text=_(
            "A supervisor answers for the agency's officers: sees the agency's requests, "
            "suspends an officer at once, vouches for new ones and revokes their keys. "
            "Supervisors do not submit requests. The platform confirms the role with your "
            "agency by telephone before approving it."
        ),
    )
    email = forms.CharField(
        label=_("Official email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
        help_text=_(
            "Your own address at your agency, such as name@police.example. "
            "Free-mail addresses are not accepted."
        ),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "At least 12 characters. Not a common password, not only digits, "
            "and not like your name or address."
        ),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    agency = forms.ChoiceField(
        label=_("Your agency"),
        help_text=_("Verified agencies, grouped by country."),
    )
    new_agency_name = _text(
        _("Name of the agency"), max_length=200, autocomplete="organization", required=False
    )
    new_agency_country = forms.ChoiceField(
        label=_("Country"),
        required=False,
        widget=forms.Select(attrs={"autocomplete": "country"}),
    )
    new_agency_kind = forms.ChoiceField(
        label=_("Kind of agency"),
        required=False,
        choices=[("", _("Choose a kind")), *Agency.Kind.choices],
    )
    new_agency_domain = _text(
        _("Official email domain"),
        max_length=253,
        autocomplete="off",
        required=False,
        help_text=_("The part after the @ of your agency's addresses, such as police.example."),
    )
    new_agency_phone = forms.CharField(
        label=_("Callback telephone number"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        help_text=_(
            "Your agency's public switchboard, with its country code (+49 30 1234567). "
            "The platform calls it to confirm you work there."
        ),
    )

    PROPOSAL_FIELDS = (
        "new_agency_name",
        "new_agency_country",
        "new_agency_kind",
        "new_agency_domain",
        "new_agency_phone",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agency"].choices = agency_choices()  # type: ignore[attr-defined]
        self.fields["new_agency_country"].choices = [  # type: ignore[attr-defined]
            ("", _("Choose a country")),
            *countries_by_name(),
        ]
        self.chosen_agency: Agency | None = None
        self.proposal: AgencyProposal | None = None

    def clean_email(self) -> str:
        try:
            address = canonical_email(self.cleaned_data["email"])
        except DomainError as exc:
            raise ValidationError(str(exc), code="email") from exc
        problem = official_domain_problem(address.rpartition("@")[2])
        if problem is not None:
            raise ValidationError(problem, code="email")
        return address

    def clean_new_agency_domain(self) -> str:
        value = self.cleaned_data["new_agency_domain"].strip()
        if not value:
            return ""
        try:
            domain = normalise_domain(value.removeprefix("@"))
        except DomainError as exc:
            raise ValidationError(str(exc), code="domain") from exc
        problem = official_domain_problem(domain)
        if problem is not None:
            raise ValidationError(problem, code="domain")
        return domain

    def clean_new_agency_phone(self) -> str:
        value = self.cleaned_data["new_agency_phone"].strip()
        return e164(value) if value else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._check_passwords(data)
        choice = data.get("agency")
        if choice == NEW_AGENCY:
            self.proposal = self._proposal(data)
        elif choice:
            self.chosen_agency = Agency.objects.filter(
                pk=choice, status=Agency.Status.VERIFIED
            ).first()
            if self.chosen_agency is None:
                self.add_error("agency", _("Choose a verified agency from the list."))
        if "email" in data and (self.proposal or self.chosen_agency):
            refusals = registration_refusals(
                email=data["email"], agency=self.chosen_agency, proposal=self.proposal
            )
            for field, message in refusals.items():
                if field not in self.errors:
                    self.add_error(field, message)
        return data

    def _check_passwords(self, data: dict[str, Any]) -> None:
        password1, password2 = data.get("password1"), data.get("password2")
        if not password1:
            return
        if password2 and password1 != password2:
            self.add_error("password2", _("The two passwords are not the same."))
        someone = User(
            email=data.get("email", ""), full_name=data.get("full_name", ""), role=Role.OFFICER
        )
        try:
            password_validation.validate_password(password1, user=someone)
        except ValidationError as exc:
            self.add_error("password1", exc)

    def _proposal(self, data: dict[str, Any]) -> AgencyProposal | None:
        labels = {
            "new_agency_name": _("Enter the name of your agency."),
            "new_agency_country": _("Choose the country of your agency."),
            "new_agency_kind": _("Choose what kind of agency it is."),
            "new_agency_domain": _("Enter your agency's official email domain."),
            "new_agency_phone": _("Enter your agency's callback telephone number."),
        }
        for field, message in labels.items():
            if not data.get(field) and field not in self.errors:
                self.add_error(field, message)
        if any(field in self.errors for field in self.PROPOSAL_FIELDS):
            return None
        return AgencyProposal(
            name=data["new_agency_name"].strip(),
            country=data["new_agency_country"],
            kind=data["new_agency_kind"],
            domain=data["new_agency_domain"],
            callback_phone=data["new_agency_phone"],
        )

    def registration(self) -> dict[str, Any]:
        """The keyword arguments of ``officer_register`` (after ``is_valid()``)."""
        data = self.cleaned_data
        return {
            "full_name": data["full_name"].strip(),
            "title": data["title"].strip(),
            "badge_number": data["badge_number"].strip(),
            "supervisor": bool(data.get("as_supervisor")),
            "email": data["email"],
            "password": data["password1"],
            "agency": self.chosen_agency,
            "proposal": self.proposal,
        }


class MailboxLinkResendForm(forms.Form):
    email = forms.CharField(
        label=_("Official email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )


class MailboxConfirmForm(forms.Form):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("The password you chose when you registered."),
    )

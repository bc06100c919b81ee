"""Staff pages of the jurisdiction policy: the table, and each rule's edit.

Vetting administrators only. Thin views: ``policy.selectors`` reads and decides who may
read, ``policy.services`` makes every change. A policy edit changes what intake accepts
from the next submission on, so it goes through a confirmation page that shows the
change, and asks for a reason kept in the audit log.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django_countries import countries

from accounts.access import AuthedRequest, role_required
from accounts.models import Role
from portal.forms import form_errors
from requests_app.lifecycle.models import DataCategory, RequestKind
from requests_app.policy.countries import country_choices
from requests_app.policy.models import PolicyRule
from requests_app.policy.selectors import (
    country_code,
    policy_countries_overriding,
    policy_default_rule,
    policy_rule_existing,
    policy_rule_get_for_staff,
    policy_table,
)
from requests_app.policy.services import (
    DEADLINE_HOURS_MAX,
    MAX_PERIOD_DAYS_MAX,
    REASON_MAX_LENGTH,
    PolicyRefused,
    PolicyTerms,
    categories_in_order,
    policy_rule_create,
    policy_rule_update,
    policy_terms_problems,
)

vetting_admin = role_required(Role.VETTING_ADMIN)


# --- Jurisdiction policy: how terms read ----------------------------------------------

# Short names for tables; the form shows DataCategory's full labels.
CATEGORY_LABELS: dict[str, str | Promise] = {
    DataCategory.SUBSCRIBER_INFO: _("subscriber information"),
    DataCategory.PHONE_NUMBER: _("phone number"),
    DataCategory.EMAIL_ADDRESS: _("email address"),
    DataCategory.IP_ADDRESSES: _("IP addresses"),
    DataCategory.LOGIN_HISTORY: _("login history"),
    DataCategory.DEVICE_INFO: _("device information"),
}
KIND_LABELS = dict(RequestKind.choices)


def hours_label(hours: int) -> str:
    if hours % 24 == 0 and hours >= 24:
        days = hours // 24
        return ngettext(
            "%(days)d day (%(hours)d hours)", "%(days)d days (%(hours)d hours)", days
        ) % {"days": days, "hours": hours}
    return ngettext("%(hours)d hour", "%(hours)d hours", hours) % {"hours": hours}


def days_label(days: int) -> str:
    return ngettext("%(days)d day", "%(days)d days", days) % {"days": days}


def categories_label(categories: list[str]) -> str:
    if not categories:
        return gettext("none")
    if set(categories) == set(DataCategory.values):
        text = gettext("all: %(categories)s") % {
            "categories": ", ".join(str(CATEGORY_LABELS[c]) for c in DataCategory.values)
        }
    else:
        text = ", ".join(str(CATEGORY_LABELS.get(c, c)) for c in categories)
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class TermRow:
    label: str
    before: str
    after: str
    detail: str = ""  # what exactly changes, where the values alone do not say it

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _term_values(terms: PolicyTerms) -> list[tuple[str, str]]:
    return [
        (gettext("Accepted"), gettext("Accepted") if terms.allowed else gettext("Refused")),
        (gettext("Disclosable data categories"), categories_label(terms.disclosable_categories)),
        (
            gettext("Legal document"),
            gettext("Required") if terms.document_required else gettext("Not required"),
        ),
        (gettext("Service deadline"), hours_label(terms.deadline_hours)),
        (gettext("Longest period a request may cover"), days_label(terms.max_period_days)),
    ]


def term_rows(before: PolicyTerms | None, after: PolicyTerms) -> list[TermRow]:
    """Each term before and after, for the confirmation page."""
    old = _term_values(before) if before is not None else None
    rows = [
        TermRow(label, old[n][1] if old is not None else gettext("no rule"), value)
        for n, (label, value) in enumerate(_term_values(after))
    ]
    if before is not None:
        removed = [
            c for c in before.disclosable_categories if c not in after.disclosable_categories
        ]
        added = [c for c in after.disclosable_categories if c not in before.disclosable_categories]
        parts = [
            text % {"categories": ", ".join(str(CATEGORY_LABELS.get(c, c)) for c in found)}
            for text, found in (
                (gettext("No longer: %(categories)s"), removed),
                (gettext("Newly: %(categories)s"), added),
            )
            if found
        ]
        rows[1] = TermRow(rows[1].label, rows[1].before, rows[1].after, "; ".join(parts))
    return rows


@dataclass(frozen=True)
class PolicyRow:
    rule: PolicyRule
    kind_label: str
    terms: list[tuple[str, str]]


def _policy_row(rule: PolicyRule) -> PolicyRow:
    return PolicyRow(
        rule, str(KIND_LABELS.get(rule.kind, rule.kind)), _term_values(PolicyTerms.of(rule))
    )


# --- Jurisdiction policy: forms -------------------------------------------------------

YES_NO = {"yes": True, "no": False}


def _yes_no(value: str) -> bool:
    return YES_NO[value]


class PolicyTermsForm(forms.Form):
    """The terms of a rule, checked with the service's own rules (``policy_terms_problems``)."""

    allowed = forms.TypedChoiceField(
        label=_("Accept this kind of request"),
        choices=[
            ("yes", _("Accepted: intake passes it on to review")),
            ("no", _("Refused: intake answers policy_violation (kind_not_allowed)")),
        ],
        coerce=_yes_no,
        widget=forms.RadioSelect,
    )
    disclosable_categories = forms.MultipleChoiceField(
        label=_("Data categories that may be asked for"),
        choices=DataCategory.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A request that asks for any other category is refused at intake."),
    )
    document_required = forms.TypedChoiceField(
        label=_("Legal document"),
        choices=[
            ("yes", _("Required: the legal order must be attached as a PDF")),
            ("no", _("Not required")),
        ],
        coerce=_yes_no,
        widget=forms.RadioSelect,
    )
    deadline_hours = forms.IntegerField(
        label=_("Service deadline, in hours"),
        help_text=_("From receipt to when the answer is due: 240 hours is 10 days."),
        widget=forms.NumberInput(
            attrs={"min": 1, "max": DEADLINE_HOURS_MAX, "class": "short-number"}
        ),
    )
    max_period_days = forms.IntegerField(
        label=_("Longest period a request may cover, in days"),
        widget=forms.NumberInput(
            attrs={"min": 1, "max": MAX_PERIOD_DAYS_MAX, "class": "short-number"}
        ),
    )
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=REASON_MAX_LENGTH,
        error_messages={"required": _("Say why the rule changes.")},
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the audit log: the legal basis or the decision you act on."),
    )

    def __init__(self, *args: Any, country: str = "", kind: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rule_country = country
        self.rule_kind = kind

    def terms(self) -> PolicyTerms:
        data = self.cleaned_data
        return PolicyTerms(
            allowed=data["allowed"],
            disclosable_categories=categories_in_order(data["disclosable_categories"]),
            document_required=data["document_required"],
            deadline_hours=data["deadline_hours"],
            max_period_days=data["max_period_days"],
        )

    def target(self) -> tuple[str, str]:
        return self.rule_country, self.rule_kind

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        needed = ("allowed", "document_required", "deadline_hours", "max_period_days")
        if any(name not in cleaned for name in needed):
            return cleaned
        country, kind = self.target()
        terms = PolicyTerms(
            allowed=cleaned["allowed"],
            disclosable_categories=list(cleaned.get("disclosable_categories") or []),
            document_required=cleaned["document_required"],
            deadline_hours=cleaned["deadline_hours"],
            max_period_days=cleaned["max_period_days"],
        )
        for name, message in policy_terms_problems(country=country, kind=kind, terms=terms):
            self.add_error(name if name in self.fields else None, message)
        return cleaned

    def add_refusal(self, refused: PolicyRefused) -> None:
        for name, message in refused.problems:
            self.add_error(name if name in self.fields else None, message)


class PolicyEditForm(PolicyTermsForm):
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_version(self) -> datetime | None:
        raw = self.cleaned_data.get("version") or ""
        if not raw:
            return None
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            raise forms.ValidationError(
                gettext("Reload the page and make your change again.")
            ) from None


rule_countries = partial(country_choices, _("Choose a country"))


KIND_CHOICES = [("", _("Choose a kind")), *RequestKind.choices]


class PolicyTargetForm(forms.Form):
    """Step one of adding a rule: which country, which kind."""

    country = forms.ChoiceField(label=_("Country"), choices=rule_countries)
    kind = forms.ChoiceField(label=_("Kind of request"), choices=KIND_CHOICES)


class PolicyCreateForm(PolicyTermsForm):
    country = forms.ChoiceField(
        label=_("Country"), choices=rule_countries, widget=forms.HiddenInput
    )
    kind = forms.ChoiceField(
        label=_("Kind of request"), choices=KIND_CHOICES, widget=forms.HiddenInput
    )
    field_order = ["country", "kind"]

    def target(self) -> tuple[str, str]:
        return self.cleaned_data.get("country", ""), self.cleaned_data.get("kind", "")


def _terms_initial(rule: PolicyRule | None) -> dict[str, Any]:
    if rule is None:
        return {}
    return {
        "allowed": "yes" if rule.allowed else "no",
        "disclosable_categories": list(rule.disclosable_categories),
        "document_required": "yes" if rule.document_required else "no",
        "deadline_hours": rule.deadline_hours,
        "max_period_days": rule.max_period_days,
    }


# --- Jurisdiction policy: pages -------------------------------------------------------


@vetting_admin
@never_cache
@require_GET
def policy_list(request: AuthedRequest) -> HttpResponse:
    """Every rule: the defaults first, then each country's own rules."""
    table = policy_table(user=request.user)
    return render(
        request,
        "requests_app/staff/policy_list.html",
        {
            "defaults": [_policy_row(rule) for rule in table.defaults],
            "country_rules": [_policy_row(rule) for rule in table.country_rules],
            "countries_with_rules": table.countries_with_rules,
        },
    )


def _rule_name(rule: PolicyRule) -> str:
    kind = KIND_LABELS.get(rule.kind, rule.kind)
    if country_code(rule):
        return f"{kind}, {countries.name(country_code(rule))}"
    return gettext("%(kind)s, default") % {"kind": kind}


def _edit_page(
    request: AuthedRequest, rule: PolicyRule, form: PolicyEditForm, *, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "requests_app/staff/policy_edit.html",
        {
            "rule": rule,
            "rule_name": _rule_name(rule),
            "current": _term_values(PolicyTerms.of(rule)),
            "overriding": (
                []
                if country_code(rule)
                else policy_countries_overriding(user=request.user, kind=rule.kind)
            ),
            "form": form,
            "errors": form_errors(form),
        },
        status=status,
    )


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def policy_edit(request: AuthedRequest, rule_id: int) -> HttpResponse:
    """Change a rule: the form, then a confirmation page showing the change, then save."""
    rule = policy_rule_get_for_staff(user=request.user, rule_id=rule_id)
    target = {"country": country_code(rule) or "", "kind": rule.kind}
    if request.method != "POST":
        initial = {**_terms_initial(rule), "version": rule.updated_at.isoformat()}
        return _edit_page(request, rule, PolicyEditForm(initial=initial, **target))

    form = PolicyEditForm(request.POST, **target)
    if not form.is_valid():
        return _edit_page(request, rule, form, status=400)
    if request.POST.get("step") == "edit":
        return _edit_page(request, rule, form)
    terms = form.terms()
    if terms == PolicyTerms.of(rule):
        form.add_error(None, gettext("These are the rule's current terms: nothing to change."))
        return _edit_page(request, rule, form, status=400)
    if request.POST.get("step") != "save":
        return render(
            request,
            "requests_app/staff/policy_confirm.html",
            {
                "title": gettext("Change the rule: %(rule)s?") % {"rule": _rule_name(rule)},
                "before_label": gettext("Now"),
                "after_label": gettext("After the change"),
                "rows": term_rows(PolicyTerms.of(rule), terms),
                "reason": form.cleaned_data["reason"],
                "form": form,
                "action": reverse("staff-policy-edit", args=[rule.pk]),
                "cancel_url": reverse("staff-policy") + f"#rule-{rule.pk}",
                "scope": _scope(rule),
                "button": gettext("Save the rule"),
            },
        )
    try:
        saved = policy_rule_update(
            rule=rule,
            actor=request.user,
            **terms.as_data(),
            reason=form.cleaned_data["reason"],
            seen_updated_at=form.cleaned_data["version"],
        )
    except PolicyRefused as refused:
        rule = policy_rule_get_for_staff(user=request.user, rule_id=rule_id)
        data = request.POST.copy()
        data["version"] = rule.updated_at.isoformat()
        form = PolicyEditForm(data, **target)
        form.is_valid()
        form.add_refusal(refused)
        return _edit_page(request, rule, form, status=409)
    messages.success(
        request,
        gettext("The rule “%(rule)s” is saved; intake applies it now.")
        % {"rule": _rule_name(saved)},
    )
    return HttpResponseRedirect(reverse("staff-policy") + f"#rule-{saved.pk}")


def _scope(rule: PolicyRule) -> str:
    if country_code(rule):
        return gettext("Every %(kind)s request from %(country)s from now on.") % {
            "kind": rule.kind,
            "country": countries.name(country_code(rule)),
        }
    return gettext(
        "Every %(kind)s request from now on, from every country without its own %(kind)s rule."
    ) % {"kind": rule.kind}


def _add_page(
    request: AuthedRequest,
    *,
    choose: PolicyTargetForm | None = None,
    form: PolicyCreateForm | None = None,
    target: tuple[str, str] = ("", ""),
    existing: PolicyRule | None = None,
    status: int = 200,
) -> HttpResponse:
    """Step one (``choose``: country and kind) or step two (``form``: the terms)."""
    country, kind = target
    default = policy_default_rule(user=request.user, kind=kind) if form is not None else None
    shown = form if form is not None else choose
    return render(
        request,
        "requests_app/staff/policy_add.html",
        {
            "choose": choose,
            "form": form,
            "country_name": countries.name(country) if country else "",
            "kind_label": KIND_LABELS.get(kind, ""),
            "default_terms": _term_values(PolicyTerms.of(default)) if default else None,
            "existing": existing,
            "errors": form_errors(shown) if shown is not None and shown.is_bound else [],
        },
        status=status,
    )


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def policy_add(request: AuthedRequest) -> HttpResponse:
    """Give a country its own rule for a kind: choose both, adjust the default's terms, save."""
    if request.method != "POST":
        if not request.GET:
            return _add_page(request, choose=PolicyTargetForm())
        choose = PolicyTargetForm(request.GET)
        if not choose.is_valid():
            return _add_page(request, choose=choose, status=400)
        country, kind = choose.cleaned_data["country"], choose.cleaned_data["kind"]
        existing = policy_rule_existing(user=request.user, country=country, kind=kind)
        if existing is not None:
            choose.add_error(
                "country",
                gettext("%(country)s has its own %(kind)s rule already.")
                % {"country": countries.name(country), "kind": kind},
            )
            return _add_page(request, choose=choose, existing=existing, status=409)
        default = policy_default_rule(user=request.user, kind=kind)
        initial = {"country": country, "kind": kind, **_terms_initial(default)}
        form = PolicyCreateForm(initial=initial)
        return _add_page(request, form=form, target=(country, kind))

    form = PolicyCreateForm(request.POST)
    if not form.is_valid():
        if "country" in form.errors or "kind" in form.errors:
            choose = PolicyTargetForm(request.POST)
            choose.is_valid()
            return _add_page(request, choose=choose, status=400)
        return _add_page(request, form=form, target=form.target(), status=400)
    country, kind = form.target()
    if request.POST.get("step") == "edit":
        return _add_page(request, form=form, target=(country, kind))
    terms = form.terms()
    if request.POST.get("step") != "save":
        default = policy_default_rule(user=request.user, kind=kind)
        return render(
            request,
            "requests_app/staff/policy_confirm.html",
            {
                "title": gettext("Add a rule: %(kind)s, %(country)s?")
                % {"kind": KIND_LABELS[kind], "country": countries.name(country)},
                "before_label": gettext("Until now (the default)"),
                "after_label": gettext("%(country)s's own rule")
                % {"country": countries.name(country)},
                "rows": term_rows(PolicyTerms.of(default) if default else None, terms),
                "reason": form.cleaned_data["reason"],
                "form": form,
                "action": reverse("staff-policy-add"),
                "cancel_url": reverse("staff-policy"),
                "scope": gettext(
                    "Every %(kind)s request from %(country)s from now on; "
                    "later changes to the default no longer apply to it."
                )
                % {"kind": kind, "country": countries.name(country)},
                "button": gettext("Add the rule"),
            },
        )
    try:
        rule = policy_rule_create(
            actor=request.user,
            country=country,
            kind=kind,
            **terms.as_data(),
            reason=form.cleaned_data["reason"],
        )
    except PolicyRefused as refused:
        form.add_refusal(refused)
        existing = policy_rule_existing(user=request.user, country=country, kind=kind)
        return _add_page(request, form=form, target=(country, kind), existing=existing, status=409)
    messages.success(
        request,
        gettext("The rule “%(rule)s” is added; intake applies it now.")
        % {"rule": _rule_name(rule)},
    )
    return HttpResponseRedirect(reverse("staff-policy") + f"#rule-{rule.pk}")

"""The jurisdiction policy: which kinds each country may send, on which terms."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from requests_app.lifecycle.models import RequestKind


class PolicyRule(models.Model):
    """What a country's authorities may ask for with one request kind.

    ``country`` blank is the default for every country without a rule of its own.
    """

    country = CountryField(blank=True)
    kind = models.CharField(max_length=30, choices=RequestKind.choices)
    allowed = models.BooleanField(default=True)
    disclosable_categories = models.JSONField(default=list)
    document_required = models.BooleanField(default=True)
    deadline_hours = models.PositiveIntegerField()
    max_period_days = models.PositiveIntegerField(
        default=366, help_text=_("The longest period a request of this kind may cover.")
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["country", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["country", "kind"], name="policy_rule_unique")
        ]

    def __str__(self) -> str:
        return f"{self.country or 'default'} {self.kind}"


class CountryPolicy(models.Model):
    """What the platform's legal team sets for one country's authorities beyond the rules.

    Today: the statement of the certificate of authenticity that every response to the
    country's authorities carries (``delivery.certificate``). Blank, or no row at all,
    means the built-in statement (``policy.defaults.DEFAULT_CERTIFICATE_STATEMENT``),
    translated where the portal is.
    """

    country = CountryField(unique=True)
    certificate_statement = models.TextField(
        blank=True,
        help_text=_(
            "The custodian's declaration in the certificate of authenticity; "
            "blank for the platform's default text."
        ),
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["country"]
        verbose_name_plural = _("country policies")

    def __str__(self) -> str:
        return f"{self.country} policy"


class CountryHelp(models.Model):
    """The request form's legal-basis help for one country's officers, kept by staff.

    ``country`` blank is the fallback for every country without help of its own. The
    citations are data, printed as written (``policy.help``); the sentences around them
    are the portal's own and translated.
    """

    country = CountryField(blank=True, unique=True)
    legal_basis_example = models.CharField(
        max_length=300,
        blank=True,
        help_text="A legal basis as an officer of the country would write it.",
    )
    legal_bases = models.TextField(
        blank=True,
        help_text="The laws the platform recognises for the country's requests, one per line.",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["country"]
        verbose_name_plural = "country help"

    def __str__(self) -> str:
        return f"{self.country or 'default'} help"

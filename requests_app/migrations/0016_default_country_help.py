"""The request form's legal-basis help at launch: Brazil, India, the EU, the US, a fallback.

The citations are data (staff edit them on /staff/policy/help/); copied here rather than
imported so that the migration keeps meaning what it meant when it was written.
"""

from django.db import migrations

# Regulation (EU) 2023/1543 binds every member state but Denmark (lifecycle.jurisdictions).
EVIDENCE_REGULATION_STATES = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
]  # fmt: skip

EU = {
    "legal_basis_example": "Art. 5 Regulation (EU) 2023/1543",
    "legal_bases": "\n".join(
        [
            "Regulation (EU) 2023/1543 (e-Evidence), Art. 5: European Production Order",
            "Regulation (EU) 2023/1543 (e-Evidence), Art. 6: European Preservation Order",
        ]
    ),
}

DEFAULTS = {
    "BR": {
        "legal_basis_example": "Art. 22, Lei 12.965/2014 (Marco Civil da Internet)",
        "legal_bases": "\n".join(
            [
                "Marco Civil da Internet (Lei 12.965/2014), art. 22: ordem judicial de "
                "fornecimento de registros de conexão ou de acesso a aplicações",
                "Marco Civil da Internet (Lei 12.965/2014), art. 10, § 3º: dados cadastrais "
                "(autoridades administrativas competentes)",
                "Marco Civil da Internet (Lei 12.965/2014), art. 15, § 2º: guarda cautelar "
                "de registros",
            ]
        ),
    },
    "IN": {
        "legal_basis_example": "Section 94, Bharatiya Nagarik Suraksha Sanhita, 2023",
        "legal_bases": "\n".join(
            [
                "Bharatiya Nagarik Suraksha Sanhita, 2023 (BNSS), s. 94: summons to produce "
                "documents or electronic records",
                "Information Technology Act, 2000, s. 69: interception, monitoring or "
                "decryption of information",
                "Information Technology Act, 2000, s. 79(3)(b): intermediary liability and "
                "assistance",
            ]
        ),
    },
    "US": {
        "legal_basis_example": "18 U.S.C. § 2703(d)",
        "legal_bases": "\n".join(
            [
                "18 U.S.C. § 2703(c)(2): subpoena for basic subscriber information",
                "18 U.S.C. § 2703(d): court order for other non-content records",
                "18 U.S.C. § 2703(f): preservation request",
            ]
        ),
    },
    **{code: EU for code in EVIDENCE_REGULATION_STATES},
    # The fallback: no citation; the form says in its own words what to write.
    "": {"legal_basis_example": "", "legal_bases": ""},
}


def add_defaults(apps, schema_editor):
    CountryHelp = apps.get_model("requests_app", "CountryHelp")
    for country, values in DEFAULTS.items():
        CountryHelp.objects.get_or_create(country=country, defaults=values)


def remove_defaults(apps, schema_editor):
    apps.get_model("requests_app", "CountryHelp").objects.filter(
        country__in=list(DEFAULTS)
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("requests_app", "0015_country_help"),
    ]

    operations = [migrations.RunPython(add_defaults, remove_defaults)]

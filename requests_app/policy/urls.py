"""URLs of the staff pages of the jurisdiction policy (vetting administrators only).

Included by ``project.urls`` at ``/staff/``; see ``requests_app.policy.views``.
"""

from django.urls import path

from requests_app.policy import views, views_certificate, views_help

urlpatterns = [
    path("policy/", views.policy_list, name="staff-policy"),
    path("policy/add/", views.policy_add, name="staff-policy-add"),
    path("policy/<int:rule_id>/", views.policy_edit, name="staff-policy-edit"),
    path(
        "policy/certificate/",
        views_certificate.certificate_statement_page,
        name="staff-certificate-statements",
    ),
    path("policy/help/", views_help.country_help_page, name="staff-country-help"),
]

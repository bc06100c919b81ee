"""URLs of the staff pages of the intake gateway (vetting administrators only).

Included by ``portal.urls`` at ``/staff/``; see ``requests_app.admin_views``.
"""

from django.urls import path

from . import admin_views

urlpatterns = [
    path("rejections/", admin_views.rejections, name="staff-rejections"),
    path("policy/", admin_views.policy_list, name="staff-policy"),
    path("policy/add/", admin_views.policy_add, name="staff-policy-add"),
    path("policy/<int:rule_id>/", admin_views.policy_edit, name="staff-policy-edit"),
]

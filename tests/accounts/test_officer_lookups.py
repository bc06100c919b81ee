"""The one officer look-up of each surface answers its anomaly the same way: 403."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from rest_framework.request import Request

from accounts.access import page_officer
from accounts.authentication import api_officer
from portal.problems import Problem
from tests.factories import make_officer, make_user

pytestmark = pytest.mark.django_db


def test_the_api_look_up_answers_a_non_officer_with_403_forbidden():
    request = Request(RequestFactory().get("/api/v1/me"))
    request.user = make_user()  # a reviewer: no officer record
    request.auth = None  # a session, not a token
    with pytest.raises(Problem) as refused:
        api_officer(request)
    assert (refused.value.code, refused.value.status) == ("forbidden", 403)


def test_the_api_look_up_finds_the_officer():
    officer = make_officer()
    request = Request(RequestFactory().get("/api/v1/me"))
    request.user = officer.user
    request.auth = None
    assert api_officer(request).pk == officer.pk


def test_the_page_look_up_answers_a_non_officer_or_an_unverified_session_with_403():
    request = RequestFactory().get("/")
    request.user = make_user()
    request.user.is_verified = lambda: True
    with pytest.raises(PermissionDenied):
        page_officer(request)
    officer = make_officer()
    request.user = officer.user
    request.user.is_verified = lambda: False
    with pytest.raises(PermissionDenied):
        page_officer(request)
    request.user.is_verified = lambda: True
    assert page_officer(request).pk == officer.pk

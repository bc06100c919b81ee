"""Fixtures shared by the registration, vetting and domain tests."""

import pytest

from tests.factories import make_agency


@pytest.fixture
def submit(client, django_capture_on_commit_callbacks):
    """POST as a browser would, running what the view schedules after its commit."""

    def post(url: str, data: dict):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data)

    return post


@pytest.fixture
def police():
    """A verified agency whose official domain is police.example."""
    return make_agency(name="Landeskriminalamt Berlin", country="DE", domain="police.example")

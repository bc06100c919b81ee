"""The gates of the test suite itself: a test that needs a program skips without it, and
fails instead under REQUIRE_SERVICES=1, so CI can never pass by skipping it."""

from types import SimpleNamespace

import pytest

from tests import conftest

MISSING = "no-such-program-on-any-path"


def item_needing(*commands: str) -> SimpleNamespace:
    mark = pytest.mark.needs_commands(*commands).mark
    return SimpleNamespace(iter_markers=lambda name: [mark] if name == mark.name else [])


def test_a_test_needing_a_missing_program_is_skipped_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conftest, "REQUIRE_SERVICES", False)

    with pytest.raises(pytest.skip.Exception, match=f"needs {MISSING} on PATH"):
        conftest.pytest_runtest_setup(item_needing("sh", MISSING))


def test_under_require_services_a_missing_program_fails_the_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conftest, "REQUIRE_SERVICES", True)

    with pytest.raises(pytest.fail.Exception, match=f"REQUIRE_SERVICES=1 but needs {MISSING}"):
        conftest.pytest_runtest_setup(item_needing("sh", MISSING))


def test_a_test_whose_programs_are_all_there_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "REQUIRE_SERVICES", True)

    assert conftest.pytest_runtest_setup(item_needing("sh")) is None

"""The CSV and JSON downloads against their documented schema and the hand-computed figures."""

import csv
import io
import json
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator

from requests_app.transparency.report import CSV_COLUMNS, SCHEMA_PATH
from requests_app.transparency.services import snapshot_publish
from tests.factories import make_vetting_admin
from tests.requests_app.factories import make_legal_request
from tests.requests_app.transparency.fixture import AS_OF, PERIOD, at, build_quarter

pytestmark = pytest.mark.django_db

SCHEMA = json.loads(SCHEMA_PATH.read_text())


@pytest.fixture
def published_snapshot():
    quarter = build_quarter()
    snapshot = snapshot_publish(actor=make_vetting_admin(), period=PERIOD, now=AS_OF)
    return quarter, snapshot


def _validator(definition: str | None = None) -> Draft202012Validator:
    # One definition is checked on its own, with $defs kept for its references.
    schema = (
        SCHEMA
        if definition is None
        else {"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{definition}"}
    )
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def test_the_json_download_matches_the_schema_and_the_hand_computed_figures(
    client, published_snapshot
) -> None:
    _, snapshot = published_snapshot
    response = client.get("/transparency/2026-Q2.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    body = response.json()
    assert sorted(_validator().iter_errors(body), key=str) == []
    assert body["period"] == {
        "key": "2026-Q2",
        "kind": "quarter",
        "label": "April to June 2026",
        "first_day": "2026-04-01",
        "last_day": "2026-06-30",
    }
    assert body["version"] == {
        "id": snapshot.pk,
        "published_at": AS_OF.isoformat(),
        "current": True,
        "supersedes": None,
        "superseded_by": None,
        "correction_reason": "",
        "changed_areas": [],
    }
    assert body["world"]["received"] == 23
    assert body["world"]["accounts_affected"] == 5
    assert body["countries"][1]["median_hours_to_answer"] == 144.0
    assert body["other_countries"]["countries"] == 2
    assert body["unattributed"]["rejected_at_intake"] == 3


def test_the_csv_download_has_the_documented_columns_and_one_valid_row_per_area(
    client, published_snapshot
) -> None:
    response = client.get("/transparency/2026-Q2.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header, rows = _csv_rows(response.content.decode())
    documented = SCHEMA["$defs"]["csv_row"]["required"]
    assert header == documented == list(CSV_COLUMNS)
    assert list(SCHEMA["$defs"]["csv_row"]["properties"]) == documented
    validator = _validator("csv_row")
    for row in rows:
        assert list(validator.iter_errors(row)) == [], row
    assert [row["area"] for row in rows] == ["world", "DE", "FR", "other", "unattributed"]
    germany = rows[1]
    assert germany["area_name"] == "Germany"
    assert germany["received"] == "11"
    assert germany["within_deadline_percent"] == "66.7"
    assert germany["median_hours_to_answer"] == "48.0"
    other = rows[3]
    assert other["within_deadline_percent"] == ""  # withheld: fewer than 3 requests due
    assert other["median_hours_to_answer"] == ""


def test_csv_and_json_give_the_same_figures_for_every_area(client, published_snapshot) -> None:
    body = client.get("/transparency/2026-Q2.json").json()
    _, rows = _csv_rows(client.get("/transparency/2026-Q2.csv").content.decode())
    areas = {
        "world": body["world"],
        **{row["country"]: row for row in body["countries"]},
        "other": body["other_countries"],
        "unattributed": body["unattributed"],
    }

    for row in rows:
        figures = areas[row["area"]]
        for key in CSV_COLUMNS[8:]:
            expected = "" if figures[key] is None else str(figures[key])
            assert row[key] == expected, (row["area"], key)


def test_an_earlier_version_stays_downloadable_after_a_correction(
    client, published_snapshot
) -> None:
    quarter, first = published_snapshot
    make_legal_request(
        officer=quarter.requests["d1"].officer, received_at=at(6, 15), due_at=at(6, 25)
    )
    second = snapshot_publish(
        actor=first.published_by,
        period=PERIOD,
        reason="A late request.",
        now=AS_OF + timedelta(days=1),
    )

    old = client.get(f"/transparency/versions/{first.pk}.json").json()
    new = client.get("/transparency/2026-Q2.json").json()

    assert old["version"]["current"] is False
    assert old["version"]["superseded_by"] == second.pk
    assert old["world"]["properly_formed"] == 15
    assert new["version"]["id"] == second.pk
    assert new["version"]["correction_reason"] == "A late request."
    assert new["version"]["changed_areas"] == ["world", "DE"]
    assert new["world"]["properly_formed"] == 16
    assert list(_validator().iter_errors(old)) == []
    assert list(_validator().iter_errors(new)) == []
    _, rows = _csv_rows(client.get(f"/transparency/versions/{first.pk}.csv").content.decode())
    assert rows[0]["version"] == str(first.pk)


def test_the_schema_is_served_as_documented(client) -> None:
    response = client.get("/transparency/schema.json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/schema+json")
    assert response.json() == SCHEMA


def test_downloads_of_a_period_never_published_are_not_found(client, published_snapshot) -> None:
    assert client.get("/transparency/2026-Q1.json").status_code == 404
    assert client.get("/transparency/2026-Q1.csv").status_code == 404
    assert client.get("/transparency/versions/999999.json").status_code == 404


def test_no_download_holds_a_reference_a_name_or_a_target(client, published_snapshot) -> None:
    quarter, _ = published_snapshot
    text = (
        client.get("/transparency/2026-Q2.json").content.decode()
        + client.get("/transparency/2026-Q2.csv").content.decode()
    ).lower()

    for request in quarter.requests.values():
        assert request.reference.lower() not in text
        assert request.case_reference.lower() not in text
        assert request.officer.user.full_name.lower() not in text
        assert request.officer.user.email.lower() not in text
        for target in request.targets.all():
            assert f'"{target.value.lower()}"' not in text
    for agency in quarter.agencies.values():
        assert agency.name.lower() not in text
    for reviewer in (quarter.r1, quarter.r2):
        assert reviewer.email.lower() not in text

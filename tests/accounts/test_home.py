"""The vetting administrator's home page: agencies, officers and keys waiting (the vetting
queue's own lists and counts) and the callbacks to make, one per agency."""

import re

import pytest

from accounts.models import Agency, Officer
from accounts.selectors import vetting_queue
from tests.factories import (
    log_in,
    make_age_recipient,
    make_agency,
    make_callback,
    make_officer,
    make_signing_key,
    make_vetting_admin,
)

pytestmark = pytest.mark.django_db


def count_on(page: str, key: str) -> int:
    return int(re.search(rf'data-count="{key}">(\d+)<', page).group(1))


def section(page: str, section_id: str) -> str:
    start = page.index(f'<section class="card work-list" id="{section_id}"')
    return page[start : page.index("</section>", start)]


@pytest.fixture
def admin():
    return make_vetting_admin(full_name="Vera Vetting")


@pytest.fixture
def admin_client(client, admin):
    log_in(client, admin)
    return client


def test_the_counts_are_the_vetting_queues_and_each_item_links_to_its_page(admin_client, admin):
    make_agency(name="Polizei Kiel", status=Agency.Status.PENDING)
    called_agency = make_agency(name="Polizei Lübeck", status=Agency.Status.PENDING)
    make_callback(agency=called_agency, called_by=admin)
    verified = make_agency(name="Polizei Bremen", callback_phone="+49421000000")
    newcomer = make_officer(agency=verified, status=Officer.Status.PENDING, full_name="Nina New")
    active = make_officer(agency=verified, full_name="Kai Keys")
    make_signing_key(officer=active)
    make_age_recipient(officer=active)
    make_age_recipient(agency=verified)
    make_officer(agency=verified, full_name="Already Active")

    home = admin_client.get("/").content.decode()
    queue_page = admin_client.get("/vetting/").content.decode()
    queue = vetting_queue(user=admin)

    assert count_on(home, "agencies") == len(queue.agencies) == 2
    assert count_on(home, "officers") == len(queue.officers) == 1
    keys = len(queue.signing_keys) + len(queue.signing_passkeys) + len(queue.age_recipients)
    assert count_on(home, "keys") == keys == 3
    for agency in queue.agencies:
        link = f'href="/vetting/agencies/{agency.pk}/"'
        assert link in section(home, "agencies")
        assert f"/vetting/agencies/{agency.pk}/" in queue_page
    assert f'href="/vetting/officers/{newcomer.pk}/"' in section(home, "officers")
    assert "Already Active" not in home
    for key in queue.signing_keys:
        assert f'href="/vetting/signing-keys/{key.pk}/"' in section(home, "keys")
    for key in queue.age_recipients:
        assert f'href="/vetting/age-recipients/{key.pk}/"' in section(home, "keys")

    # Calls: Kiel (no confirmed callback yet), Bremen (the newcomer, three keys to read);
    # Lübeck was called already.
    calls = section(home, "calls")
    assert count_on(home, "calls") == 2
    assert "Polizei Kiel" in calls
    assert "Polizei Bremen" in calls
    assert "+49421000000" in calls
    assert "Nina New" in calls
    assert "Polizei Lübeck" not in calls


def test_an_empty_queue_reads_as_such(admin_client):
    home = admin_client.get("/").content.decode()

    assert "Welcome, Vera Vetting" in home
    for key in ("agencies", "officers", "keys", "calls"):
        assert count_on(home, key) == 0
    assert "No call to make." in home

"""The team flow over real HTTP (gunicorn, 2 workers) and real SMTP, including the races."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest
import requests

from appliance.client.api import StaffClient
from tests.support.smtp import SmtpSink
from tests.support.team import BASE_URL, admins_of, link_in, smtp_env

ADMIN_EMAIL, ADMIN_PASSWORD = "inhaberin@praxis-sonnenschein.de", "sehr-geheimes-passwort"


@pytest.fixture
def sink():
    with SmtpSink() as running:
        yield running


@pytest.fixture
def server(live_server, sink):
    return live_server(**smtp_env(sink))


@pytest.fixture
def admin(server) -> StaffClient:
    client = StaffClient(server.url)
    client.register(ADMIN_EMAIL, ADMIN_PASSWORD, "Dr. Anna Sonne")
    client.create_practice("Praxis Sonnenschein", "datenschutz@praxis-sonnenschein.de", "vault-passwort-123")
    return client


def _at_once(count: int, action) -> list:
    """Runs `action(i)` on `count` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(index: int):
        barrier.wait(timeout=30)
        return action(index)

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _mailed_token(admin: StaffClient, sink: SmtpSink, email: str, role: str) -> str:
    before = len(sink.messages)
    created = admin.call("POST", "/api/team/invite", {"email": email, "role": role})
    assert created["emailSent"] is True
    received = sink.wait_for(before + 1)[-1]
    assert received.rcpt_tos == [email]
    base, token = link_in(received.message.get_content())
    assert base == BASE_URL
    return token


def _accept(server, token: str, **body) -> requests.Response:
    return requests.post(f"{server.url}/api/team/invite/{token}/accept", json=body, timeout=30)


def test_invite_mail_link_accept_and_log_in_as_the_new_member(server, admin, sink):
    token = _mailed_token(admin, sink, "arzt@praxis-sonnenschein.de", "ARZT")
    page = requests.get(f"{server.url}/api/team/invite/{token}", timeout=30)
    assert page.status_code == 200, page.text
    assert page.json()["practice"] == {"name": "Praxis Sonnenschein"}
    assert page.json()["accountExists"] is False

    accepted = _accept(server, token, name="Dr. Ben Kollege", password="arzt-passwort-123")
    assert accepted.status_code == 200, accepted.text

    member = StaffClient(server.url)
    user = member.login("arzt@praxis-sonnenschein.de", "arzt-passwort-123")
    assert (user["role"], user["practiceId"]) == ("ARZT", admin.practice["id"])
    member.unlock_vault("vault-passwort-123")  # the practice vault, shared by its members
    roles = {m["email"]: m["role"] for m in admin.call("GET", "/api/team/members")["items"]}
    assert roles == {ADMIN_EMAIL: "ADMIN", "arzt@praxis-sonnenschein.de": "ARZT"}


def test_two_concurrent_accepts_of_one_token_exactly_one_wins(server, admin, sink):
    token = _mailed_token(admin, sink, "doppelt@praxis-sonnenschein.de", "EMPFANG")
    answers = _at_once(2, lambda i: _accept(server, token, name=f"Person {i}",
                                            password=f"passwort-nummer-{i}"))
    outcomes = sorted((r.status_code, r.json().get("error", {}).get("code")) for r in answers)
    assert outcomes == [(200, None), (410, "invite_used")], outcomes
    members = admin.call("GET", "/api/team/members")
    assert [m["email"] for m in members["items"]].count("doppelt@praxis-sonnenschein.de") == 1


def test_two_admins_demoting_each_other_at_once_leave_exactly_one_admin(server, admin, sink):
    token = _mailed_token(admin, sink, "zweite@praxis-sonnenschein.de", "ADMIN")
    second = StaffClient(server.url)
    second.token = _accept(server, token, name="Dr. Zweite", password="zweite-passwort-1").json()["token"]
    first_id, second_id = (client.call("GET", "/api/auth/me")["id"] for client in (admin, second))
    clients = {first_id: admin, second_id: second}

    def demote_the_other(index: int) -> int:
        me, other = (first_id, second_id) if index == 0 else (second_id, first_id)
        response = requests.patch(
            f"{server.url}/api/team/members/{other}/role", json={"role": "ARZT"}, timeout=30,
            headers={"Authorization": f"Bearer {clients[me].token}"},
        )
        return response.status_code

    for _ in range(5):
        statuses = sorted(_at_once(2, demote_the_other))
        assert statuses[0] == 200 and statuses[1] in (403, 409), statuses
        (remaining,) = admins_of(admin.practice["id"])
        # The winner promotes the other back for the next round.
        loser = second_id if remaining == first_id else first_id
        clients[remaining].call("PATCH", f"/api/team/members/{loser}/role", {"role": "ADMIN"})
        assert sorted(admins_of(admin.practice["id"])) == sorted(clients)


def test_a_removed_member_is_refused_on_the_next_request(server, admin, sink):
    token = _mailed_token(admin, sink, "weg@praxis-sonnenschein.de", "ARZT")
    member = StaffClient(server.url)
    member.token = _accept(server, token, name="Weg", password="weg-passwort-12").json()["token"]
    assert member.call("GET", "/api/patients")["total"] == 0
    member_id = member.call("GET", "/api/auth/me")["id"]
    admin.call("DELETE", f"/api/team/members/{member_id}")
    refused = requests.get(f"{server.url}/api/patients", timeout=30,
                           headers={"Authorization": f"Bearer {member.token}"})
    assert refused.status_code == 401

"""User administration through the admin API, on both stores: each change an event naming the
admin, validation as 422 naming the field, unknown users 404, broken rules 409, and an attacker's
view (a worker, an auditor, no token)."""

import logging

import pytest

from pilar.cases.account import UserAccount
from testkit.fixtures import PASSWORD

NEW_PASSWORD = "tanah-liat-hujan-47"



def history(service, username):
    """The account's events as (type, actor)."""
    events = service.repository.event_store.get(UserAccount.id_for(username))
    return [(type(e).__name__, e.actor) for e in events]


def sign_in(client, username, password=PASSWORD):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_an_admin_adds_lists_and_reads_users_without_password_hashes(client, auth, service):
    added = client.post("/api/v1/users", headers=auth("root"), json={
        "username": "tksk.arjosari", "role": "worker", "pillar": "tksk", "password": NEW_PASSWORD,
        "kecamatan": ["35.01.02"], "pii": False})
    assert added.status_code == 201, added.json
    assert added.json == {"username": "tksk.arjosari", "role": "worker", "pillar": "tksk", "pillars": ["tksk"],
                          "kecamatan": ["35.01.02"],
                          "pii": False, "pii_set": False, "active": True, "version": 1}
    listed = client.get("/api/v1/users", headers=auth("root"))
    assert listed.status_code == 200
    names = [u["username"] for u in listed.json["items"]]
    assert names == sorted(names) and "tksk.arjosari" in names and listed.json["total"] == len(names)
    assert "password" not in listed.get_data(as_text=True) and "argon2" not in listed.get_data(as_text=True)
    wati = client.get("/api/v1/users/wati", headers=auth("root")).json
    assert wati == {"username": "wati", "role": "worker", "pillar": "pkh", "pillars": ["pkh"], "kecamatan": [], "pii": True,
                    "pii_set": None, "active": True, "version": 1}
    assert history(service, "tksk.arjosari") == [("UserAdded", "root")]
    assert sign_in(client, "tksk.arjosari", NEW_PASSWORD).status_code == 200


def test_every_change_is_an_event_naming_the_admin(client, auth, service):
    admin = auth("root")
    steps = [("role", {"role": "supervisor", "pillar": "pkh"}), ("scope", {"kecamatan": ["35.01.04", "35.01.05"]}),
             ("pii", {"pii": False}), ("password", {"password": NEW_PASSWORD}), ("deactivation", {}),
             ("reactivation", {}), ("sessions/revocation", {})]
    for path, body in steps:
        answer = client.post(f"/api/v1/users/agus/{path}", headers=admin, json=body)
        assert answer.status_code == 200, (path, answer.json)
    assert answer.json == {"username": "agus", "role": "supervisor", "pillar": "pkh", "pillars": ["pkh"],
                           "kecamatan": ["35.01.04", "35.01.05"], "pii": False, "pii_set": False, "active": True,
                           "version": 8}
    assert history(service, "agus") == [
        ("UserAdded", "system"), ("RoleChanged", "root"), ("ScopeChanged", "root"), ("PiiAccessChanged", "root"),
        ("PasswordChanged", "root"), ("UserDeactivated", "root"), ("UserReactivated", "root"),
        ("SessionsRevoked", "root")]
    assert sign_in(client, "agus").status_code == 401 and sign_in(client, "agus", NEW_PASSWORD).status_code == 200
    # Back to the role's default, and to every kecamatan.
    assert client.post("/api/v1/users/agus/pii", headers=admin, json={"pii": None}).json["pii"] is True
    assert client.post("/api/v1/users/agus/scope", headers=admin, json={"kecamatan": []}).json["kecamatan"] == []


def test_a_change_that_changes_nothing_appends_nothing(client, auth, service):
    before = service.recorder.max_notification_id()
    assert client.post("/api/v1/users/wati/role", headers=auth("root"),
                       json={"role": "worker", "pillar": "pkh"}).status_code == 200
    assert client.post("/api/v1/users/wati/pii", headers=auth("root"), json={"pii": None}).status_code == 200
    assert service.recorder.max_notification_id() == before


@pytest.mark.parametrize(("path", "body", "field"), [
    ("", {"username": "x y", "role": "worker", "pillar": "pkh", "password": NEW_PASSWORD}, "username"),
    ("", {"username": "budi", "role": "boss", "pillar": "pkh", "password": NEW_PASSWORD}, "role"),
    ("", {"username": "budi", "role": "worker", "password": NEW_PASSWORD}, "pillar"),
    ("", {"username": "budi", "role": "worker", "pillar": "pkh", "password": "1234567890"}, "password"),
    ("", {"username": "budi", "role": "worker", "pillar": "pkh", "password": "Qwertyuiop123"}, "password"),
    ("", {"username": "budi", "role": "worker", "pillar": "pkh", "password": "budi-santoso-99"}, "password"),
    ("", {"username": "budi", "role": "worker", "pillar": "pkh", "password": NEW_PASSWORD,
          "kecamatan": ["35.02.01"]}, "kecamatan"),
    ("", {"username": "budi", "role": "worker", "pillar": "pkh"}, "password"),
    ("/wati/role", {"role": "worker", "pillar": None}, "pillar"),
    ("/wati/role", {"role": "worker", "pillar": "polisi"}, "pillar"),
    ("/wati/role", {"role": "worker", "pillars": ["pkh", "tksk"]}, "pillars"),
    ("/wati/role", {"role": "supervisor", "pillars": ["pkh", "polisi"]}, "pillars"),
    ("/wati/role", {"role": "supervisor", "pillar": "pkh", "pillars": ["tksk"]}, "pillars"),
    ("/wati/role", {"role": "auditor", "pillar": "pkh"}, "pillar"),
    ("", {"username": "budi", "role": "admin", "pillars": ["pkh", "psm"], "password": NEW_PASSWORD}, "pillars"),
    ("/wati/scope", {"kecamatan": ["35.01.04", "35.01.04"]}, "kecamatan"),
    ("/wati/scope", {}, "kecamatan"),
    ("/wati/pii", {"pii": "yes please"}, "pii"),
    ("/wati/password", {"password": "password1234"}, "password"),
    ("/wati/password", {"password": "wati-wati-wati"}, "password"),
])
def test_invalid_input_is_422_naming_the_field(client, auth, service, path, body, field):
    before = service.recorder.max_notification_id()
    answer = client.post(f"/api/v1/users{path}", headers=auth("root"), json=body)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["errors"]["json"]
    assert service.recorder.max_notification_id() == before


def test_a_coordinator_of_several_pillars(client, auth, service):
    """Added with `pillars`, signed in, they read and write for those pillars and no other; one
    pillar again, or every pillar, by a role change; each change an event with the pillars."""
    admin = auth("root")
    added = client.post("/api/v1/users", headers=admin, json={
        "username": "mira", "role": "supervisor", "pillars": ["tksk", "psm"], "password": NEW_PASSWORD})
    assert added.status_code == 201, added.json
    assert (added.json["pillar"], added.json["pillars"]) == (None, ["tksk", "psm"])
    token = sign_in(client, "mira", NEW_PASSWORD).json
    assert (token["pillar"], token["pillars"]) == (None, ["tksk", "psm"])
    mira = {"Authorization": f"Bearer {token['token']}"}
    workloads = client.get("/api/v1/workloads", headers=mira)
    assert workloads.status_code == 200
    assert {item["pillar"] for item in workloads.json["pillars"]} == {"tksk", "psm"}
    assert client.get("/api/v1/workloads/psm", headers=mira).status_code == 200
    assert client.get("/api/v1/workloads/pkh", headers=mira).status_code == 403
    assert client.get("/api/v1/cases", headers=mira, query_string={"pillar": "pkh"}).status_code == 403
    changed = client.post("/api/v1/users/mira/role", headers=admin, json={"role": "supervisor", "pillar": "psm"})
    assert changed.json["pillars"] == ["psm"]
    everything = client.post("/api/v1/users/mira/role", headers=admin, json={"role": "supervisor"})
    assert (everything.json["pillar"], everything.json["pillars"]) == (None, [])
    events = service.repository.event_store.get(UserAccount.id_for("mira"))
    assert [(type(e).__name__, e.pillar, e.pillars) for e in events] == [
        ("UserAdded", None, ["tksk", "psm"]), ("RoleChanged", "psm", None), ("RoleChanged", None, None)]


def test_unknown_users_are_404(client, auth):
    admin = auth("root")
    assert client.get("/api/v1/users/nobody", headers=admin).status_code == 404
    assert client.get("/api/v1/users/" + "x" * 300, headers=admin).status_code == 404
    for path, body in [("role", {"role": "auditor"}), ("deactivation", {}), ("sessions/revocation", {}),
                       ("password", {"password": NEW_PASSWORD})]:
        assert client.post(f"/api/v1/users/nobody/{path}", headers=admin, json=body).status_code == 404


def test_rules_are_409_naming_the_rule(client, auth):
    admin = auth("root")

    def rule(path, body=None):
        answer = client.post(f"/api/v1/users{path}", headers=admin, json=body or {})
        assert answer.status_code == 409, answer.json
        return answer.json["rule"]

    assert rule("", {"username": "wati", "role": "worker", "pillar": "pkh", "password": NEW_PASSWORD}) == "username_unique"
    assert client.post("/api/v1/users/joko/deactivation", headers=admin, json={}).status_code == 200
    assert rule("/joko/deactivation") == "deactivate_once"
    assert rule("/wati/reactivation") == "reactivate_inactive_only"
    assert rule("/root/deactivation") == "not_yourself"
    assert rule("/root/role", {"role": "auditor"}) == "not_yourself"
    # A second admin may not remove the last other one either; with two active, one may go.
    assert client.post("/api/v1/users", headers=admin, json={
        "username": "admin2", "role": "admin", "password": NEW_PASSWORD}).status_code == 201
    second = {"Authorization": "Bearer " + sign_in(client, "admin2", NEW_PASSWORD).json["token"]}
    assert client.post("/api/v1/users/root/deactivation", headers=second, json={}).status_code == 200
    answer = client.post("/api/v1/users/admin2/role", headers=second, json={"role": "auditor"})
    assert answer.status_code == 409 and answer.json["rule"] == "not_yourself"


def test_last_active_admin_stays(service, staff):
    from pilar.cases.access import Actor
    from pilar.cases.errors import RuleBroken

    shell = Actor("os:root", "admin", None)
    with pytest.raises(RuleBroken) as refused:
        service.deactivate_user(shell, "root")
    assert refused.value.rule == "last_admin"
    with pytest.raises(RuleBroken):
        service.change_role(shell, "root", "auditor", None)


@pytest.mark.parametrize("who", ["wati", "sri", "dinsos", "inspektur"])
def test_no_one_but_an_admin_manages_users(client, auth, service, who, caplog):
    before = service.recorder.max_notification_id()
    headers = auth(who)
    with caplog.at_level(logging.WARNING, logger="pilar.security"):
        assert client.get("/api/v1/users", headers=headers).status_code == 403
        assert client.get("/api/v1/users/root", headers=headers).status_code == 403
        assert client.post("/api/v1/users", headers=headers, json={
            "username": "mole", "role": "admin", "password": NEW_PASSWORD}).status_code == 403
        for path, body in [("role", {"role": "admin"}), ("scope", {"kecamatan": []}), ("pii", {"pii": True}),
                           ("password", {"password": NEW_PASSWORD}), ("deactivation", {}),
                           ("reactivation", {}), ("sessions/revocation", {})]:
            assert client.post(f"/api/v1/users/{who}/{path}", headers=headers, json=body).status_code == 403, path
    assert service.recorder.max_notification_id() == before
    forbidden = [r.getMessage() for r in caplog.records if r.name == "pilar.security"]
    assert len(forbidden) == 10 and all(line.startswith(f"event=forbidden user={who} client=127.0.0.1 path=/api/v1/users")
                                        for line in forbidden)


def test_without_a_token_nothing_is_answered(client, staff):
    assert client.get("/api/v1/users").status_code == 401
    assert client.post("/api/v1/users/wati/deactivation", json={}).status_code == 401


def test_role_change_reaches_the_users_token(client, auth, service):
    worker = auth("wati")
    assert client.get("/api/v1/workloads", headers=worker).status_code == 200
    assert client.post("/api/v1/users/wati/role", headers=auth("root"), json={"role": "auditor"}).status_code == 200
    assert client.get("/api/v1/events", headers=worker).status_code == 200  # an auditor's feed, at once
    assert client.post("/api/v1/users/wati/role", headers=auth("root"), json={"role": "admin"}).status_code == 200
    assert client.get("/api/v1/workloads", headers=worker).status_code == 403  # admins read no case data


def test_admin_changes_are_security_events(client, auth, caplog):
    with caplog.at_level(logging.INFO, logger="pilar.security"):
        client.post("/api/v1/users/wati/scope", headers=auth("root"), json={"kecamatan": ["35.01.04"]})
    lines = [r.getMessage() for r in caplog.records if r.name == "pilar.security"]
    assert lines == ["event=user_changed user=root client=127.0.0.1 path=/api/v1/users/wati/scope "
                     "account=wati change=scope"]


def test_racing_changes_to_one_account_are_both_kept(service, staff):
    from pilar.cases.access import Actor

    admin = Actor("root", "admin", None)
    stale = service.repository.get(UserAccount.id_for("wati"))  # read before the other change lands
    service.change_scope(admin, "wati", ("35.01.04",))
    service.repository.get = lambda *a, _first=[stale], **k: (  # noqa: E731 - hand out the stale copy once
        _first.pop() if _first else type(service.repository).get(service.repository, *a, **k))
    service.set_pii(admin, "wati", False)
    del service.repository.get
    wati = service.user("wati")
    assert wati.kecamatan == ("35.01.04",) and wati.pii is False and wati.version == 3


def test_two_admins_removing_each_other_at_once_leave_one_active(service, staff):
    """root deactivates admin2 while admin2 deactivates root: each checked that another admin was
    active before either saved. The admin roster both removals write to makes the later save
    conflict; decided again on fresh accounts it is refused, and one admin stays."""
    from pilar.cases.access import Actor
    from pilar.cases.errors import RuleBroken

    service.add_user(Actor("root", "admin", None), "admin2", "admin", None, NEW_PASSWORD)
    root, admin2 = Actor("root", "admin", None), Actor("admin2", "admin", None)
    save, raced = service.save, []

    def save_after_the_other_removal(*aggregates, **kwargs):
        if not raced:  # root's save: admin2's removal of root lands first
            raced.append(True)
            service.deactivate_user(admin2, "root")
        return save(*aggregates, **kwargs)

    service.save = save_after_the_other_removal
    try:
        with pytest.raises(RuleBroken) as refused:
            service.deactivate_user(root, "admin2")
    finally:
        del service.save
    assert refused.value.rule == "last_admin"
    active = {user.username for user in service.list_users(root) if user.role == "admin" and user.active}
    assert active == {"admin2"}

"""An event's shape changes by a class_version and an upcast_vX_vY method (docs/operations.md,
Upgrades): events stored in the old shape are read in the new one, on SQLite and PostgreSQL."""

from pilar.cases.access import SYSTEM
from pilar.cases.account import UserAccount
from pilar.cases.passwords import hash_password
from testkit.fixtures import PASSWORD

API = "/api/v1"


def _store_old_user_added(service, username: str) -> bytes:
    """A UserAdded as Pilar wrote it before scopes: no class_version, no kecamatan, no pii."""
    original = UserAccount.UserAdded.class_version
    UserAccount.UserAdded.class_version = 1
    try:
        account = UserAccount.add(actor="system", username=username, role="worker", pillars="pkh",
                                  password_hash=hash_password(PASSWORD))
        (event,) = account.collect_events()
        del event.__dict__["kecamatan"], event.__dict__["pii"], event.__dict__["pillars"]
        stored = service.mapper.to_stored_event(event)
    finally:
        UserAccount.UserAdded.class_version = original
    service.recorder.insert_events([stored])
    return stored.state


def test_a_user_added_in_the_old_shape_is_read_in_the_new_one(service, client, catch_up):
    state = _store_old_user_added(service, "lama")
    assert b"class_version" not in state and b"kecamatan" not in state and b'"pii"' not in state
    stored = service.recorder.select_events(UserAccount.id_for("lama"))
    event = service.mapper.to_domain_event(stored[0])
    assert (event.kecamatan, event.pii) == ([], None)  # upcast_v1_v2
    account = service.user("lama")
    assert (account.kecamatan, account.pii, account.reads_pii, account.active) == ((), None, True, True)
    assert account.pillars == ("pkh",)
    # The account works end to end: it signs in, and its later events are written in the new shape.
    assert client.post(f"{API}/auth/token", json={"username": "lama", "password": PASSWORD}).status_code == 200
    service.add_user(SYSTEM, "baru", "worker", "pkh", PASSWORD)
    (new,) = service.recorder.select_events(UserAccount.id_for("baru"))
    assert b'"class_version":2' in new.state.replace(b" ", b"")
    assert service.mapper.to_domain_event(new).kecamatan == []
    catch_up()  # old and new shapes seal alike


def test_the_old_shaped_event_verifies(service, client, auth, staff, catch_up):
    _store_old_user_added(service, "lama")
    catch_up()
    assert client.get(f"{API}/audit/verify", headers=auth("inspektur")).json["ok"] is True

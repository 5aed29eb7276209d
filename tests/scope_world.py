"""One small regency shared by the scope tests (tests/test_scope_matrix.py, tests/test_scope_views.py):
a store per store kind, built once per module, with users of every role and scope and people and
cases placed so that every endpoint can be tried from inside and outside each scope."""

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from pilar.bootstrap import Services, bootstrap, init_store
from pilar.cases.access import SYSTEM, Actor
from pilar.projections.runner import Follower
from pilar.store.connection import ViewDB
from testkit import factories
from testkit.fixtures import PASSWORD, drop_store, new_store_url, settings_for
from testkit.pages import Pages
from pilar.wsgi import create_app

HOME = "35.01.04"  # Pacitan: where most of the cases are
AWAY = "35.01.01"  # Donorojo

# Columns of the matrix: (username, role, pillar, kecamatan, pii); None: the role's default.
USERS = {
    "W": ("wati", "worker", "pkh", (), None),           # PKH, every kecamatan
    "K": ("tini", "worker", "pkh", (HOME,), None),      # PKH, Pacitan only
    "O": ("budi", "worker", "pkh", (AWAY,), None),      # PKH, Donorojo only (other kecamatan)
    "T": ("joko", "worker", "tksk", (), None),          # TKSK: another pillar, and the referred-to one
    "S": ("sri", "supervisor", "pkh", (), None),        # PKH coordinator
    "D": ("dinsos", "supervisor", None, (), None),      # Dinas Sosial
    "A": ("inspektur", "auditor", None, (), None),      # auditor without pii (the default)
    "P": ("periksa", "auditor", None, (), True),        # auditor with pii
    "X": ("root", "admin", None, (), None),             # admin: no case data
    "M": ("mira", "supervisor", ("tksk", "fk_lksa"), (), None),  # coordinator of two pillars
    "G": ("gone", "worker", "pkh", (), None),           # deactivated after signing in
}
EXTRA_USERS = {"ratna": ("worker", "fk_lksa"), "rina": ("supervisor", "pkh")}


@dataclass
class Person:
    id: str
    body: dict[str, Any]

    def secrets(self) -> dict[str, str]:
        return {f"{self.body['name']}'s {k}": self.body[k] for k in ("nik", "kk", "phone", "address")}


@dataclass
class World:
    services: Services
    client: Any
    tokens: dict[str, str]
    people: dict[str, Person] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    # Each column's browser session on the pages (pilar/web/), signed in through the sign-in page.
    browsers: dict[str, Any] = field(default_factory=dict)

    def browser(self, column: str) -> Any:
        """The column's signed-in page session; U: a browser that never signed in."""
        if column not in self.browsers:
            self.browsers[column] = self.client.application.test_client()
        return self.browsers[column]

    def headers(self, column: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[column]}", **extra} if column in self.tokens else dict(extra)

    def catch_up(self) -> None:
        conn = ViewDB(self.services.settings.store).connect()
        try:
            follower = Follower(self.services.cases, conn, self.services.settings.audit_key(), 200)
            while follower.step():
                pass
        finally:
            conn.close()


def _person(n: int, desa: str) -> dict[str, Any]:
    # Every identifier unique to its person, so that finding one in an answer names the leak.
    return factories.person(name=f"Orang Nomor {n}", kk=f"35010412030400{n:02d}", phone=f"+62 812 000{n} 7{n}{n}1",
                            address=f"Dusun Rahasia {n} RT 0{n}", desa_code=desa)


def build_world(kind: str, tmp: Path) -> tuple[World, Any]:
    """(the world, a function that tears it down)."""
    url = new_store_url(kind, tmp)
    # No projection process runs here (the world catches up by itself), however long the module takes:
    # neither its absence nor the writes the matrix leaves unprojected make /readyz answer 503.
    settings = replace(settings_for(url, tmp), ready_projector_timeout=86400.0, ready_max_lag=86400.0)
    init_store(settings)
    services = bootstrap(settings)
    app = create_app(services)
    client = app.test_client()
    service = services.cases
    for username, role, pillar, kecamatan, pii in USERS.values():
        service.add_user(SYSTEM, username, role, pillar, PASSWORD, kecamatan=kecamatan, pii=pii)
    for username, (role, pillar) in EXTRA_USERS.items():
        service.add_user(SYSTEM, username, role, pillar, PASSWORD)
    tokens = {}
    for column, (username, *_rest) in USERS.items():
        answer = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert answer.status_code == 200, answer.json
        tokens[column] = answer.json["token"]
    browsers = {}
    for column, (username, *_rest) in USERS.items():
        browsers[column] = app.test_client()
        assert Pages(browsers[column]).sign_in(username, PASSWORD).status_code == 303
    service.deactivate_user(SYSTEM, "gone")
    world = World(services, client, tokens, browsers=browsers)
    _populate(world)
    world.catch_up()

    def teardown() -> None:
        services.close()
        drop_store(url)

    return world, teardown


def _populate(world: World) -> None:
    app = world.services.cases
    actors = {name: Actor(name, role, pillar) for name, role, pillar in (
        ("wati", "worker", "pkh"), ("joko", "worker", "tksk"), ("ratna", "worker", "fk_lksa"),
        ("dinsos", "supervisor", None))}
    wati, dinsos = actors["wati"], actors["dinsos"]
    for key, n, desa in (("P1", 1, f"{HOME}.1001"), ("P2", 2, f"{HOME}.1001"), ("P3", 3, f"{AWAY}.2001"),
                         ("P4", 4, f"{HOME}.1001")):
        body = _person(n, desa)
        fields = {k: (date.fromisoformat(v) if k == "birth_date" else v) for k, v in body.items()}
        world.people[key] = Person(str(app.register_beneficiary(dinsos, **fields).id), body)

    def open_case(key: str, person: str, pillar: str, category: str, worker: str | None) -> str:
        case_id = app.open_case(dinsos, beneficiary_id=uuid.UUID(world.people[person].id), pillar=pillar,
                                referral={"source": "musdes", "referred_by": f"kades {key}",
                                          "reason": f"alasan rahasia {key}"},
                                categories=[category], priority="high").id
        if worker:
            app.assign_case(dinsos, case_id, worker=worker)
        world.ids[key] = str(case_id)
        return case_id

    # C1: PKH's, in Pacitan, assessed, aided and followed up by tini.
    c1 = open_case("C1", "P1", "pkh", "lansia_terlantar", "tini")
    app.assess_case(wati, c1, needs=["basic_needs"], risk="high", summary="ringkasan rahasia C1")
    app.give_aid(wati, c1, component="basic_needs", item="paket sembako", quantity=1, unit="paket",
                 value_idr=300_000, funding_source="apbd", given_on=date.today())
    world.ids["F1"] = app.schedule_follow_up(wati, c1, due_on=date.today() - timedelta(days=1),
                                             purpose="kunjungan rahasia").extra["follow_up_id"]
    # C2: the same person's FK-LKSA case (a child's): another pillar's, details never shown to PKH.
    open_case("C2", "P1", "fk_lksa", "anak_disabilitas", "ratna")
    # C3: PKH's, in Pacitan, referred to TKSK and still pending.
    c3 = open_case("C3", "P2", "pkh", "fakir_miskin", None)
    world.ids["R3"] = app.send_referral(wati, c3, to_pillar="tksk", reason="alasan rujukan").extra["referral_id"]
    # C4: PKH's, in Donorojo, handled by budi.
    c4 = open_case("C4", "P3", "pkh", "korban_bencana_alam", "budi")
    app.assess_case(dinsos, c4, needs=["care"], risk="low", summary="ringkasan rahasia C4")
    app.give_aid(dinsos, c4, component="care", item="kursi roda", quantity=1, unit="unit", value_idr=1_750_000,
                 funding_source="csr", given_on=date.today())
    app.schedule_follow_up(dinsos, c4, due_on=date.today() - timedelta(days=2), purpose="kunjungan C4")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request, tmp_path_factory):
    """One world per store kind, shared by a module's tests (they change nothing it is built on)."""
    built, teardown = build_world(request.param, tmp_path_factory.mktemp(request.param))
    yield built
    teardown()

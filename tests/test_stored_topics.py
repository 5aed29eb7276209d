"""Stored events name their class by topic. The code moved into the `pilar` package after stores
were written: events and snapshots stored before the move (tests/data/store-before-pilar-package: the database and its instance keys,
made by its made_by.py with the code of commit 9dbb919: one event of every type there was then, a
snapshot, an idempotent write, an erasure) are read, verified and projected by the code as it is,
and new events are stored under the same topics (package-relative, docs/decisions.md)."""

import shutil
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic, resolve_topic

from pilar.bootstrap import bootstrap
from pilar.cases.access import Actor
from pilar.cases.account import AdminRoster, UserAccount
from pilar.cases.beneficiary import Beneficiary, NikClaim
from pilar.cases.case import Case
from pilar.cases.idempotency import IdempotencyRecord
from testkit.fixtures import settings_for
from testkit.servers import pilar_env

OLD_STORE = Path(__file__).parent / "data" / "store-before-pilar-package"
PILAR = str(Path(sys.executable).parent / "pilar")
AGGREGATES = (Case, Beneficiary, NikClaim, UserAccount, AdminRoster, IdempotencyRecord)


@pytest.fixture
def old_store(tmp_path):
    shutil.copy(OLD_STORE / "pilar.db", tmp_path / "pilar.db")
    # Its instance folder's keys (kept as keys/: instance/ folders are never committed)
    shutil.copytree(OLD_STORE / "keys", tmp_path / "instance")
    for key in (tmp_path / "instance").iterdir():
        key.chmod(0o600)  # as Pilar made them; git keeps only 0644
    settings = settings_for(f"sqlite:///{tmp_path / 'pilar.db'}", tmp_path)
    done = subprocess.run([PILAR, "db", "init"], capture_output=True, text=True, env=pilar_env(settings), timeout=120)
    assert done.returncode == 0, done.stderr
    return settings


def _stored_topics(settings) -> set[str]:
    with sqlite3.connect(settings.store.sqlite_path) as db:
        return {topic for (topic,) in db.execute("SELECT DISTINCT topic FROM stored_events")}


def _event_classes():
    for aggregate in AGGREGATES:
        yield aggregate
        yield from (c for c in vars(aggregate).values() if isinstance(c, type) and issubclass(c, Aggregate.Event))


def test_every_topic_is_relative_to_the_package_and_resolves():
    for cls in _event_classes():
        topic = get_topic(cls)
        assert not topic.startswith("pilar."), topic
        assert topic == f"{cls.__module__.removeprefix('pilar.')}:{cls.__qualname__}"
        assert resolve_topic(topic) is cls


def test_events_stored_before_the_move_are_read_verified_and_projected(old_store):
    stored = _stored_topics(old_store)
    assert len(stored) == 33 and all(topic.startswith("cases.") for topic in stored)  # every type of then
    services = bootstrap(old_store)
    try:
        app = services.cases
        events = app.recorder.select_notifications(1, 10_000)
        assert {get_topic(type(app.mapper.to_domain_event(n))) for n in events} == stored
        for originator in {n.originator_id for n in events}:
            app.repository.get(originator)  # snapshots too: the old store holds one of a case
        case_id = next(n.originator_id for n in events if n.topic == "cases.case:Case.CaseOpened")
        pillar = app.repository.get(case_id).pillar
        app.schedule_follow_up(Actor("sri", "supervisor", ()), case_id, due_on=date.today() + timedelta(days=2),
                               purpose="kunjungan sesudah pemindahan")
        assert app.repository.get(case_id).pillar == pillar
    finally:
        services.close()
    assert _stored_topics(old_store) == stored  # the new event's topic has the old form
    env = pilar_env(old_store)
    for command, said in ((["projections", "rebuild"], ""), (["projections", "check"], "views match a rebuild"),
                          (["audit", "verify"], "")):
        done = subprocess.run([PILAR, *command], capture_output=True, text=True, env=env, timeout=180)
        assert done.returncode == 0 and said in done.stdout, (command, done.stdout, done.stderr)

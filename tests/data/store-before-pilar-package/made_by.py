"""Builds a small store with the code of commit 9dbb919 (before the move into the pilar package)."""
import sys, shutil
from pathlib import Path
from uuid import UUID
from argon2 import PasswordHasher
from bootstrap import bootstrap, init_store
from cases import passwords
from cases.access import SYSTEM, Actor
from cases.write_path import WriteOptions, Idempotency
from demo import load_demo, DEMO_PASSWORD
from testkit.fixtures import settings_for

out = Path(sys.argv[1]); shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
settings = settings_for(f"sqlite:///{out / 'pilar.db'}", out)
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
init_store(settings)
services = bootstrap(settings)
app = services.cases
load_demo(app, people=10)
admin = app.actor("admin") if hasattr(app, "actor") else None
from datetime import date, timedelta
import hashlib
ADMIN = Actor("adi", "admin")
app.add_user(SYSTEM, "adi", "admin", None, DEMO_PASSWORD)
app.add_user(SYSTEM, "adi2", "admin", None, DEMO_PASSWORD)
app.add_user(ADMIN, "wati", "worker", "pkh", DEMO_PASSWORD)
app.change_role(ADMIN, "wati", "supervisor", ("pkh", "tksk"))
app.change_scope(ADMIN, "wati", ("35.01.04",))
app.set_pii(ADMIN, "wati", False)
app.revoke_sessions(ADMIN, "wati")
app.reset_password(ADMIN, "wati", DEMO_PASSWORD + "-2")
app.deactivate_user(ADMIN, "wati")
app.reactivate_user(ADMIN, "wati")
app.deactivate_user(ADMIN, "adi2")  # AdminRoster
SUP = Actor("sri", "supervisor", ())
ids = [UUID(r[0]) for r in services.readers.connection().__enter__().execute("select case_id from view_cases").fetchall()] if False else None
import sqlite3
db = sqlite3.connect(out / "pilar.db")
def ids(topic):
    return [UUID(r[0]) if isinstance(r[0], str) else UUID(bytes=r[0]) for r in db.execute("select originator_id from stored_events where topic=?", (topic,))]
SUP = Actor("sri", "supervisor", ())
def step(name, f):
    try:
        f(); print("ok", name)
    except Exception as e:
        print("FAILED", name, type(e).__name__, e)
cases_ = ids("cases.case:Case.CaseOpened"); people = ids("cases.beneficiary:Beneficiary.BeneficiaryRegistered")
c0, c1, c2 = cases_[0], cases_[1], cases_[2]
case = app.repository.get(c0)
step("follow-up", lambda: app.schedule_follow_up(SUP, c0, due_on=date.today() + timedelta(days=3), purpose="kunjungan rumah"))
case = app.repository.get(c0)
fid = [f for f in case.follow_ups if f["completed_at"] is None][0]["id"]
step("complete", lambda: app.complete_follow_up(SUP, c0, fid, outcome=__import__("cases.vocab", fromlist=["x"]).FOLLOW_UP_OUTCOMES[0], notes="baik"))
step("referral", lambda: app.send_referral(SUP, c1, to_pillar="tksk" if app.repository.get(c1).pillar != "tksk" else "psm", reason="butuh bantuan"))
rid = app.repository.get(c1).referrals[-1]["id"]
step("decline", lambda: app.decline_referral(SUP, c1, rid, reason="tidak sesuai"))
from cases import vocab
step("lawful", lambda: app.change_lawful_basis(SUP, c2, lawful_basis="legal_obligation", reason="perubahan dasar"))
step("close", lambda: app.close_case(SUP, c2, outcome=vocab.CLOSURE_OUTCOMES[0], note="selesai"))
step("reopen", lambda: app.reopen_case(SUP, c2, reason="kambuh lagi"))
p0, p1 = people[0], people[1]
step("correct", lambda: app.correct_beneficiary(SUP, p0, changes={"phone": "081234567890"}, reason="nomor baru"))
step("consent", lambda: app.record_consent(SUP, p0, given_by="self", method=vocab.CONSENT_METHODS[0] if hasattr(vocab, "CONSENT_METHODS") else "written", purpose="pendampingan"))
step("withdraw", lambda: app.withdraw_consent(SUP, p0, reason="tidak bersedia"))
step("request erasure", lambda: app.request_erasure(SUP, p1, reason="permintaan sendiri"))
step("erase", lambda: app.erase_personal_data(SUP, p1, reason="permintaan sendiri"))
idem = Idempotency(key="old-store-key-1", fingerprint=hashlib.sha256(b"x").hexdigest())
step("idempotent", lambda: app.schedule_follow_up(SUP, c0, due_on=date.today() + timedelta(days=9), purpose="kunjungan", options=WriteOptions(idempotency=idem)))
from testkit import factories
body = factories.person(name="Mbah Painem")
body["birth_date"] = date.fromisoformat(body["birth_date"])
def reclaim():
    first = app.register_beneficiary(SUP, **body)
    pid = first.id if hasattr(first, "id") else first.aggregate_id
    app.request_erasure(SUP, pid, reason="permintaan sendiri")
    app.erase_personal_data(SUP, pid, reason="permintaan sendiri")
    app.register_beneficiary(SUP, **body)
step("reclaim", reclaim)
step("snapshot", lambda: app.take_snapshot(c0))
print(db.execute("select topic, count(*) from stored_events group by topic").fetchall())
print(db.execute("select topic, count(*) from stored_snapshots group by topic").fetchall())

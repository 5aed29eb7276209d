"""The composition root: settings → store → services. The API, the CLI, the projection process
and the benchmarks get their services here and nowhere else; each process builds its own (under
gunicorn, each worker after the fork: see pilar/wsgi.py)."""

from dataclasses import dataclass
from functools import cache, cached_property

from pilar.audit.access_log import ACCESS_LOG_STATEMENTS, AccessLog, prepare_access_log
from pilar.audit.quarantine import QUARANTINE_STATEMENTS
from pilar.audit.seals import SEAL_STATEMENTS, chain_hash
from pilar.audit.service import AuditService
from pilar.cases.application import PilarApplication
from pilar.cases.event_mac import BOUNDARY_NAME, boundary_value, event_key
from pilar.cases.sessions import Sessions
from pilar.cases.signin import SignIn, Tokens
from pilar.cases.users import ACCOUNT_INDEX
from pilar.cases.wilayah import Wilayah
from pilar.projections.heartbeat import HEARTBEAT_STATEMENTS
from pilar.projections.queries import WorkloadQueries
from pilar.projections.schema import LIVE, create_statements, drop_statements, present_indexes, views_outdated
from pilar.projections.report_queries import ReportQueries
from pilar.projections.reports import ReportService
from pilar.projections.household_service import HouseholdService
from pilar.projections.queries import WorkloadQueries
from pilar.projections.service import WorkloadService
from pilar.settings import Settings
from pilar.store.connection import Readers, ViewDB
from pilar.store.erasure_ledger import ErasureLedger
from pilar.store.imports import ImportTable
from pilar.store.migrations import migrate
from pilar.store import key_checks
from pilar.store.kek import FileSource, KekError, KeyRing
from pilar.store.key_checks import KEY_CHECK_STATEMENTS, KeyMismatch
from pilar.store.name_index import NAME_INDEX_STATEMENTS, NameIndex
from pilar.store.personal_keys import PERSONAL_KEY_STATEMENTS, PersonalKeys, kek_check_name, require_known_kek
from pilar.store.rate_limits import RATE_LIMIT_STATEMENTS
from pilar.store.sessions import SESSION_STATEMENTS, SessionTable
from pilar.store.streams import streams_for


@dataclass
class Services:
    settings: Settings
    cases: PilarApplication  # the application service: every write, and reads of streams
    views: WorkloadService  # the read side: workloads, case lists, follow-ups, views at a past moment
    readers: Readers  # read connections shared by every service (one pool per process)
    access_log: AccessLog

    @cached_property
    def reports(self) -> ReportService:
        """The supervisors' dashboards and the rakor report, over the same views."""
        return ReportService(self.views, ReportQueries(self.readers), self.cases)

    # Built on first use: a command that needs no key (`pilar users add`, `pilar project` with
    # PILAR_AUDIT_KEY) runs where the signing key is not configured.
    @cached_property
    def audit(self) -> AuditService:
        """Histories, the feed, verification, the access log."""
        return AuditService(self.cases, self.readers, self.access_log, self.settings.audit_key(),
                            heads_file=self.settings.heads_path)

    @cached_property
    def households(self) -> HouseholdService:
        """Households by KK, and DTSEN desil extracts (which name people by KK or NIK)."""
        return HouseholdService(self.cases, self.readers)

    @cached_property
    def signin(self) -> SignIn:
        return SignIn(self.cases, Tokens(self.settings.token_secret()),
                      Sessions(SessionTable(self.readers), idle_timeout=self.settings.idle_timeout))

    @cached_property
    def imports(self) -> "Importer":
        """Bulk imports (pilar/api/bulk/) and their reports."""
        from pilar.api.bulk.importer import Importer  # here: the api package imports this module

        return Importer(self.cases, ImportTable(self.readers))

    def close(self) -> None:
        self.views.close()
        self.cases.close()
        self.readers.close()


def bootstrap(settings: Settings | None = None, *, wilayah: Wilayah | None = None,
              create_tables: bool = False, lookup_checked: bool = True) -> Services:
    settings = settings or Settings.from_env()
    readers = Readers(settings.store)

    def lookup_key() -> bytes:
        key = _lookup_key(settings)
        if lookup_checked:
            with readers.connection() as conn:
                if key_checks.recorded(conn, "lookup") is None:
                    raise KeyMismatch("this store's NIK claims are not yet under the keyed hash: run `pilar db init`")
                key_checks.require_match(conn, "lookup", key, LOOKUP_HINT)
        return key

    @cache
    def audit_key_is_stores() -> bool:
        """Whether a failed MAC means damage: under a key that is not the store's, every MAC fails."""
        with readers.connection() as conn:
            expected = key_checks.recorded(conn, "audit")
        return expected is None or expected == key_checks.check_value(settings.audit_key(), "audit")

    access_log = AccessLog(readers, settings.audit_key)
    cases = PilarApplication(
        settings.store.eventsourcing_env(create_table=create_tables),
        wilayah=wilayah or Wilayah.from_csv(settings.wilayah_csv),
        access_log=access_log,
        personal_keys=PersonalKeys(readers, KeyRing(settings.kek_source()), ErasureLedger(settings.erasure_ledger_path)),
        name_index=NameIndex(readers),
        streams=streams_for,
        audit_key=settings.audit_key,
        lookup_key=lookup_key,
        lawful_bases=dict(settings.lawful_bases),
        audit_key_is_stores=audit_key_is_stores,
    )
    queries = WorkloadQueries(readers, head_sql=cases.streams.head_sql())
    return Services(
        settings=settings,
        cases=cases,
        views=WorkloadService(queries, history=cases, desil_max_age=settings.desil_max_age_periods),
        readers=readers,
        access_log=access_log,
    )


def init_store(settings: Settings) -> None:
    """Create every table once, before any worker starts (`pilar db init`). Concurrent CREATE
    TABLE IF NOT EXISTS races on PostgreSQL, so servers never do this.

    On a new store it also writes whichever keys are not configured (signing key, audit key,
    key-encryption key: files in the instance folder, 0600) and records the audit key's check
    value. On a store set up before, it makes no key: it checks the keys at hand against the
    store and refuses, saying which, when one is missing or is not the store's."""
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    settings.store.create_private_file()
    lock = ViewDB(settings.store).connect()
    try:
        lock.require_utf8()
        # Servers starting together may each run this: one at a time, the others then find it done.
        with lock.exclusive(INIT_LOCK, INIT_WAIT, "another `pilar db init` is running on this store"):
            _init_store(settings)
    finally:
        lock.close()


INIT_LOCK = "db-init"
NAME_INDEX_MARK = "name_index"
INIT_WAIT = 300.0


def _init_store(settings: Settings) -> None:
    services = bootstrap(settings, create_tables=True)
    head = services.cases.recorder.max_notification_id() or 0
    has_events = head > 0
    account_index = services.cases.streams.topic_index(*ACCOUNT_INDEX)
    services.close()
    conn = ViewDB(settings.store).connect()
    try:
        if views_outdated(conn):
            # Views are derived: an older layout is dropped, and the projection process builds
            # the new one from event zero when it starts (docs/operations.md, "Upgrading").
            with conn.transaction():
                for statement in drop_statements(LIVE):
                    conn.execute(statement)
        with conn.transaction():
            for statement in (create_statements(present=present_indexes(conn)) + SEAL_STATEMENTS + ACCESS_LOG_STATEMENTS + PERSONAL_KEY_STATEMENTS
                              + KEY_CHECK_STATEMENTS + RATE_LIMIT_STATEMENTS + SESSION_STATEMENTS
                              + HEARTBEAT_STATEMENTS + QUARANTINE_STATEMENTS + NAME_INDEX_STATEMENTS + [account_index]):
                conn.execute(statement)
        if key_checks.recorded(conn, "audit") is not None:
            _require_keys(settings, conn)
        elif has_events:
            _adopt_keys(settings, conn)
        else:
            _make_missing_keys(settings, conn)
        _upgrade(settings, conn, head)
        migrate(conn)
        # After a restore from a backup taken before an erasure, the backup still holds the key.
        ErasureLedger(settings.erasure_ledger_path).reapply(conn)
    finally:
        conn.close()


LOOKUP_HINT = "set PILAR_LOOKUP_KEY to the store's lookup key (the file instance/lookup_key where `pilar db init` first ran)"


def _lookup_key(settings: Settings) -> bytes:
    try:
        return settings.lookup_key()
    except RuntimeError as missing:
        raise KeyMismatch(str(missing)) from None


def _upgrade(settings: Settings, conn, head: int) -> None:
    """What a store set up by an older Pilar lacks: a lookup key, with its NIK claims moved from
    an unkeyed hash of the NIK to the keyed one; and the point before which events carry no MAC."""
    if key_checks.recorded(conn, "lookup") is None:
        settings.ensure_lookup_key()  # a new kind of key: no store has one to be matched yet
        if head:
            services = bootstrap(settings, lookup_checked=False)
            try:
                services.cases.move_nik_claims()
            finally:
                services.close()
        with conn.transaction():
            key_checks.record(conn, "lookup", _lookup_key(settings))
    else:
        key_checks.require_match(conn, "lookup", _lookup_key(settings), LOOKUP_HINT)
    if key_checks.recorded(conn, BOUNDARY_NAME) is None:
        # Events up to the head as it was before this Pilar first ran were written without a MAC.
        with conn.transaction():
            key_checks.record_value(conn, BOUNDARY_NAME, boundary_value(event_key(settings.audit_key()), head))
    prepare_access_log(conn, settings.audit_key())  # its MAC column; the rows that may lack a MAC
    if key_checks.recorded(conn, NAME_INDEX_MARK) is None:
        # A store made before the name index: every registered person's name is indexed once.
        if head:
            services = bootstrap(settings)
            try:
                services.cases.index_names()
            finally:
                services.close()
        with conn.transaction():
            key_checks.record_value(conn, NAME_INDEX_MARK, "1")


def _make_missing_keys(settings: Settings, conn) -> None:
    settings.ensure_secret_key()
    settings.ensure_audit_key(derived=False)
    _ensure_kek_file(settings)
    with conn.transaction():
        key_checks.record(conn, "audit", settings.audit_key())
        _record_kek(settings, conn)


def _record_kek(settings: Settings, conn) -> None:
    kek_id, kek = KeyRing(settings.kek_source()).current()
    key_checks.record(conn, kek_check_name(kek_id), kek)


def _adopt_keys(settings: Settings, conn) -> None:
    """A store set up by a Pilar that kept no check values: it has a signing key already (none is
    made), and was sealed under the audit key derived from it, unless one is configured. The key
    is recorded only if it verifies the oldest seal."""
    _require_signing_key(settings)
    settings.ensure_audit_key(derived=True)
    key = settings.audit_key()
    first = conn.one("SELECT position, event_hash, chain_hash FROM audit_seals ORDER BY position LIMIT 1")
    if first is not None and chain_hash(key, "", int(first[0]), first[1]) != first[2]:
        raise KeyMismatch("the audit key at hand does not verify this store's seals: set PILAR_AUDIT_KEY to the "
                          "key it was sealed under (or PILAR_SECRET_KEY to the signing key it was derived from)")
    if conn.one("SELECT 1 FROM personal_keys WHERE key LIKE '%:%' LIMIT 1") is None:
        _ensure_kek_file(settings)  # no key is wrapped yet: this store never had a KEK
    with conn.transaction():
        key_checks.record(conn, "audit", key)
        _record_kek(settings, conn)


def _ensure_kek_file(settings: Settings) -> None:
    source = settings.kek_source()
    if isinstance(source, FileSource):
        source.create()


def _require_signing_key(settings: Settings) -> None:
    try:
        settings.token_secret()
    except RuntimeError:
        raise KeyMismatch("this store is set up already, so `pilar db init` makes no new keys: set "
                          "PILAR_SECRET_KEY (or copy instance/secret_key) to the signing key its servers use") from None


def _require_keys(settings: Settings, conn) -> None:
    """The keys of a store set up before: present, and the store's own."""
    _require_signing_key(settings)
    try:
        require_known_kek(conn, KeyRing(settings.kek_source()))
    except KekError as foreign:
        raise KeyMismatch("this store is set up already, so `pilar db init` makes no new keys: set PILAR_KEK (or "
                          f"copy the key file) to the key-encryption key its servers use ({foreign})") from None
    check_audit_key(settings, conn)


def check_audit_key(settings: Settings, conn) -> None:
    """Refuse an audit key that is not the one the store's history was sealed under: seals made
    with it would not verify, and verify would report a break where there is none."""
    try:
        key = settings.audit_key()
    except RuntimeError as missing:
        raise KeyMismatch(str(missing)) from None
    key_checks.require_match(conn, "audit", key, "set PILAR_AUDIT_KEY to the store's audit key (the file "
                                                 "instance/audit_key where `pilar db init` first ran)")

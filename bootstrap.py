"""The composition root: settings → store → services. The API, the CLI, the projection process
and the benchmarks get their services here and nowhere else; each process builds its own (under
gunicorn, each worker after the fork: see wsgi.py)."""

from dataclasses import dataclass
from functools import cached_property

from audit.access_log import ACCESS_LOG_STATEMENTS, AccessLog
from audit.seals import SEAL_STATEMENTS
from audit.service import AuditService
from cases.application import PilarApplication
from cases.signin import SignIn, Tokens
from cases.wilayah import Wilayah
from projections.queries import WorkloadQueries
from projections.schema import create_statements
from projections.service import WorkloadService
from settings import Settings
from store.connection import Readers, ViewDB
from store.kek import FileSource, KeyRing
from store.personal_keys import PERSONAL_KEY_STATEMENTS, PersonalKeys
from store.streams import streams_for


@dataclass
class Services:
    settings: Settings
    cases: PilarApplication  # the application service: every write, and reads of streams
    views: WorkloadService  # the read side: workloads, case lists, follow-ups, views at a past moment
    readers: Readers  # read connections shared by every service (one pool per process)
    access_log: AccessLog

    # Built on first use: a command that needs no key (`pilar users add`, `pilar project` with
    # PILAR_AUDIT_KEY) runs where the signing key is not configured.
    @cached_property
    def audit(self) -> AuditService:
        """Histories, the feed, verification, the access log."""
        return AuditService(self.cases, self.readers, self.access_log, self.settings.audit_key())

    @cached_property
    def signin(self) -> SignIn:
        return SignIn(self.cases, Tokens(self.settings.token_secret()))

    def close(self) -> None:
        self.cases.close()
        self.readers.close()


def bootstrap(settings: Settings | None = None, *, wilayah: Wilayah | None = None,
              create_tables: bool = False) -> Services:
    settings = settings or Settings.from_env()
    readers = Readers(settings.store)
    access_log = AccessLog(readers)
    cases = PilarApplication(
        settings.store.eventsourcing_env(create_table=create_tables),
        wilayah=wilayah or Wilayah.from_csv(settings.wilayah_csv),
        access_log=access_log,
        personal_keys=PersonalKeys(readers, KeyRing(settings.kek_source())),
        streams=streams_for,
    )
    queries = WorkloadQueries(readers, head_sql=cases.streams.head_sql())
    return Services(
        settings=settings,
        cases=cases,
        views=WorkloadService(queries, history=cases),
        readers=readers,
        access_log=access_log,
    )


def init_store(settings: Settings) -> None:
    """Create every table once, before any worker starts (`pilar db init`); and the token
    signing key and the key-encryption key file, unless they are configured. Concurrent CREATE
    TABLE IF NOT EXISTS races on PostgreSQL, so servers never do this."""
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    settings.ensure_secret_key()
    source = settings.kek_source()
    if isinstance(source, FileSource):
        source.create()
    bootstrap(settings, create_tables=True).close()
    conn = ViewDB(settings.store).connect()
    try:
        with conn.transaction():
            for statement in create_statements() + SEAL_STATEMENTS + ACCESS_LOG_STATEMENTS + PERSONAL_KEY_STATEMENTS:
                conn.execute(statement)
    finally:
        conn.close()

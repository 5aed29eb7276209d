"""Configuration from the environment (README: the PILAR_* variables)."""

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from limits import parse_many

from pilar.cases.lawful_basis import parse_defaults
from pilar.cases.wilayah import DEFAULT_WILAYAH_CSV
from pilar.store.config import StoreConfig
from pilar.store.kek import EnvSource, FileSource, KekSource, create_private_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Installed (pip install .), the code sits among other packages, where no store or key belongs.
INSTALLED = any(part in ("site-packages", "dist-packages") for part in PROJECT_ROOT.parts)
INSTALLED_INSTANCE = Path("/var/lib/pilar")  # deploy/ (Dockerfile, systemd units) names it too


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    store: StoreConfig
    wilayah_csv: Path
    secret_key: str | None
    max_body_bytes: int
    audit_secret: str | None = None
    kek: str | None = None  # PILAR_KEK: `id:base64` entries, the current one first
    kek_file: Path | None = None  # PILAR_KEK_FILE; instance/kek when neither is set
    lookup_secret: str | None = None  # PILAR_LOOKUP_KEY
    heads_file: Path | None = None  # PILAR_HEADS_FILE: where the seals' signed heads are published
    erasure_ledger: Path | None = None  # PILAR_ERASURE_LEDGER: ids of destroyed keys, re-applied after a restore
    trusted_proxies: int = 0  # PILAR_TRUSTED_PROXIES: how many proxies in front set X-Forwarded-*; 0 trusts none
    cors_origins: tuple[str, ...] = ()  # PILAR_CORS_ORIGINS: the browser origins the API answers; none by default
    import_max_bytes: int = 20 * 1024 * 1024  # PILAR_IMPORT_MAX_BYTES: the largest file POST /imports takes
    idle_timeout: int = 0  # PILAR_IDLE_TIMEOUT: seconds a token may go unused before it is refused; 0: off
    # PILAR_LAWFUL_BASIS: (pillar, basis) pairs, each pillar's default basis for new cases; others public_task
    lawful_bases: tuple[tuple[str, str], ...] = ()
    # Rate limits (pilar/api/limits.py), in the `limits` notation ("5 per 15 minutes"; several joined by ";")
    signin_limit_user: str = "5 per 15 minutes"  # PILAR_SIGNIN_LIMIT_USER: failed sign-ins per username
    signin_limit_address: str = "30 per 15 minutes"  # PILAR_SIGNIN_LIMIT_ADDRESS: failed sign-ins per client address
    lookup_limit: str = "60 per minute"  # PILAR_LOOKUP_LIMIT: NIK look-ups per user
    rate_limit_storage: str | None = None  # PILAR_RATE_LIMIT_STORAGE: e.g. redis://host:6379; the store when unset
    log_format: str = "json"  # PILAR_LOG_FORMAT: json (one object a line) or text (pilar/log_format.py)
    # /readyz (docs/operations.md, "Health and readiness"), in seconds
    ready_max_lag: float = 30.0  # PILAR_READY_MAX_LAG: how long the views may trail the store
    # PILAR_DESIL_MAX_AGE_PERIODS: quarters a person's DTSEN desil may trail today's before their cases are flagged
    desil_max_age_periods: int = 4
    ready_projector_timeout: float = 10.0  # PILAR_READY_PROJECTOR_TIMEOUT: how long without a leading, moving projection process
    # PILAR_WRITES_PER_WORKER: write requests one worker serves at once (0: no limit); unset: the store's default
    writes_per_worker: int | None = None

    def __post_init__(self) -> None:
        for name, value in RATE_LIMITS.items():
            check_rate_limit(name, getattr(self, value))
        if self.log_format not in ("json", "text"):
            raise ValueError(f"PILAR_LOG_FORMAT must be json or text, not {self.log_format!r}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        instance = instance_folder(env.get("PILAR_INSTANCE_PATH"))
        url = env.get("PILAR_DATABASE_URL") or f"sqlite:///{instance / 'pilar.db'}"
        return cls(
            instance_path=instance,
            store=StoreConfig(url),
            wilayah_csv=Path(env.get("PILAR_WILAYAH_CSV") or DEFAULT_WILAYAH_CSV),
            secret_key=env.get("PILAR_SECRET_KEY") or None,
            max_body_bytes=int(env.get("PILAR_MAX_BODY_BYTES") or 64 * 1024),
            import_max_bytes=int(env.get("PILAR_IMPORT_MAX_BYTES") or 20 * 1024 * 1024),
            audit_secret=env.get("PILAR_AUDIT_KEY") or None,
            kek=env.get("PILAR_KEK") or None,
            kek_file=Path(env["PILAR_KEK_FILE"]) if env.get("PILAR_KEK_FILE") else None,
            lookup_secret=env.get("PILAR_LOOKUP_KEY") or None,
            heads_file=Path(env["PILAR_HEADS_FILE"]) if env.get("PILAR_HEADS_FILE") else None,
            erasure_ledger=Path(env["PILAR_ERASURE_LEDGER"]) if env.get("PILAR_ERASURE_LEDGER") else None,
            trusted_proxies=int(env.get("PILAR_TRUSTED_PROXIES") or 0),
            cors_origins=tuple(o.strip().rstrip("/") for o in (env.get("PILAR_CORS_ORIGINS") or "").split(",")
                               if o.strip()),
            **{field: env[name] for name, field in RATE_LIMITS.items() if env.get(name)},
            rate_limit_storage=env.get("PILAR_RATE_LIMIT_STORAGE") or None,
            lawful_bases=tuple(parse_defaults(env.get("PILAR_LAWFUL_BASIS")).items()),
            idle_timeout=_seconds("PILAR_IDLE_TIMEOUT", env.get("PILAR_IDLE_TIMEOUT")),
            log_format=(env.get("PILAR_LOG_FORMAT") or "json").strip().lower(),
            desil_max_age_periods=_whole("PILAR_DESIL_MAX_AGE_PERIODS", env.get("PILAR_DESIL_MAX_AGE_PERIODS"), 4,
                                         "quarters (e.g. 4)"),
            writes_per_worker=_whole("PILAR_WRITES_PER_WORKER", env.get("PILAR_WRITES_PER_WORKER"), None,
                                     "requests (0: no limit)"),
            **{field: _threshold(name, env[name]) for name, field in READINESS.items() if env.get(name)},
        )

    @property
    def writes_at_once(self) -> int:
        """Write requests (not GET, HEAD or OPTIONS) one worker serves at once; 0: no limit. SQLite has one
        writer, which more only queue for (pilar/gunicorn_worker.py): 1 there by default."""
        if self.writes_per_worker is not None:
            return self.writes_per_worker
        return 1 if self.store.kind == "sqlite" else 0

    @property
    def heads_path(self) -> Path:
        """The heads file (pilar/audit/heads.py): PILAR_HEADS_FILE, else instance/audit_heads."""
        return self.heads_file or self.instance_path / "audit_heads"

    @property
    def erasure_ledger_path(self) -> Path:
        """The erasure ledger (pilar/store/erasure_ledger.py): PILAR_ERASURE_LEDGER, else instance/erasure_ledger."""
        return self.erasure_ledger or self.instance_path / "erasure_ledger"

    @property
    def secret_key_file(self) -> Path:
        return self.instance_path / "secret_key"

    def token_secret(self) -> str:
        """PILAR_SECRET_KEY, or the key `pilar db init` wrote to the instance folder. Every
        worker and server must share it, so it is never generated on the fly."""
        if self.secret_key:
            return self.secret_key
        try:
            return self.secret_key_file.read_text().strip()
        except FileNotFoundError:
            raise RuntimeError(
                f"no signing key: set PILAR_SECRET_KEY or run `pilar db init` to create {self.secret_key_file}"
            ) from None

    def kek_source(self) -> KekSource:
        """Where the key-encryption keys come from (pilar/store/kek.py); never the database."""
        if self.kek:
            return EnvSource(self.kek)
        return FileSource(self.kek_file or self.instance_path / "kek")

    def ensure_secret_key(self) -> None:
        """Write a signing key to the instance folder unless one is configured or written already."""
        if not self.secret_key and not self.secret_key_file.exists():
            create_private_file(self.secret_key_file, secrets.token_urlsafe(48))

    @property
    def audit_key_file(self) -> Path:
        return self.instance_path / "audit_key"

    def audit_key(self) -> bytes:
        """Keys the seal chain. Kept out of the database, so whoever can write the database
        still cannot forge seals: PILAR_AUDIT_KEY, else the file `pilar db init` wrote."""
        if self.audit_secret:
            return _key_bytes(self.audit_secret)
        try:
            return _key_bytes(self.audit_key_file.read_text().strip())
        except FileNotFoundError:
            pass
        try:
            return self._derived_audit_key()
        except RuntimeError:
            raise RuntimeError(f"no audit key: set PILAR_AUDIT_KEY or run `pilar db init` to create "
                               f"{self.audit_key_file}") from None

    @property
    def lookup_key_file(self) -> Path:
        return self.instance_path / "lookup_key"

    def lookup_key(self) -> bytes:
        """Keys the hashes NIKs are found by (pilar/cases/lookup.py): PILAR_LOOKUP_KEY, else the file
        `pilar db init` wrote. Never derived and never made on the fly: another key would find nobody."""
        if self.lookup_secret:
            return _key_bytes(self.lookup_secret)
        try:
            return _key_bytes(self.lookup_key_file.read_text().strip())
        except FileNotFoundError:
            raise RuntimeError(f"no lookup key: set PILAR_LOOKUP_KEY or run `pilar db init` to create "
                               f"{self.lookup_key_file}") from None

    def ensure_lookup_key(self) -> None:
        if not self.lookup_secret and not self.lookup_key_file.exists():
            create_private_file(self.lookup_key_file, secrets.token_urlsafe(32))

    def _derived_audit_key(self) -> bytes:
        # Stores set up before the audit key had a file of its own were sealed under this.
        return hmac.new(self.token_secret().encode(), b"pilar-audit-seal", hashlib.sha256).digest()

    def ensure_audit_key(self, *, derived: bool) -> None:
        """Write an audit key of its own, unless one is configured: a store set up before keeps the
        key derived from its signing key, so its history still verifies; a new store gets a random
        one. The file's text is the key as PILAR_AUDIT_KEY would give it."""
        if self.audit_secret or self.audit_key_file.exists():
            return
        text = f"hex:{self._derived_audit_key().hex()}" if derived else secrets.token_urlsafe(32)
        create_private_file(self.audit_key_file, text)


def instance_folder(configured: str | None, root: Path = PROJECT_ROOT, installed: bool = INSTALLED) -> Path:
    """PILAR_INSTANCE_PATH, else /var/lib/pilar (installed) or the checkout's instance/. Refused, naming
    the folder and the setting, inside the installed package or where this user cannot write."""
    default = INSTALLED_INSTANCE if installed else root / "instance"
    path = Path(configured or default).resolve()
    where = f"the instance folder {path} ({'PILAR_INSTANCE_PATH' if configured else 'PILAR_INSTANCE_PATH is not set'})"
    if installed and path.is_relative_to(root):
        raise ValueError(f"{where} is inside the installed package ({root}): set PILAR_INSTANCE_PATH to a "
                         f"folder of its own, e.g. /var/lib/pilar")
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{where} cannot be written by this user ({existing} is not a writable folder): "
                         f"create it for the user Pilar runs as, or set PILAR_INSTANCE_PATH to one that is")
    return path


RATE_LIMITS = {"PILAR_SIGNIN_LIMIT_USER": "signin_limit_user", "PILAR_SIGNIN_LIMIT_ADDRESS": "signin_limit_address",
               "PILAR_LOOKUP_LIMIT": "lookup_limit"}


def check_rate_limit(name: str, value: str) -> None:
    """Refuses to start on a rate limit that `limits` cannot read, or that allows nothing."""
    try:
        items = parse_many(value)
    except ValueError:
        items = []
    if not items or any(item.amount < 1 for item in items):
        raise ValueError(f"{name}={value!r} is not a rate limit: write it like '5 per 15 minutes' or "
                         f"'60 per minute' (at least 1; several joined by ';')")


READINESS = {"PILAR_READY_MAX_LAG": "ready_max_lag", "PILAR_READY_PROJECTOR_TIMEOUT": "ready_projector_timeout"}


def _threshold(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a number of seconds above 0 (e.g. 30), not {text!r}")
    return value


def _whole(name: str, text: str | None, default: int | None, unit: str) -> int | None:
    if not (text or "").strip():
        return default
    if not text.strip().isdigit():
        raise ValueError(f"{name} must be a whole number of {unit}, not {text!r}")
    return int(text)


def _seconds(name: str, text: str | None) -> int:
    """A duration: seconds, or with a unit (`900`, `900s`, `15m`, `2h`); empty or 0: off."""
    text = (text or "").strip().lower()
    if not text:
        return 0
    unit = {"s": 1, "m": 60, "h": 3600}.get(text[-1])
    try:
        value = int(text[:-1] if unit else text) * (unit or 1)
    except ValueError:
        raise ValueError(f"{name} must be seconds or a number with s, m or h (e.g. 900 or 15m), not {text!r}") from None
    if value and value < 120:
        raise ValueError(f"{name} must be at least 2 minutes (or 0 for no idle timeout)")
    return value


def _key_bytes(text: str) -> bytes:
    """A key as configured: `hex:` and hex digits for raw bytes, any other text as it is."""
    return bytes.fromhex(text[4:]) if text.startswith("hex:") else text.encode()

"""Configuration from the environment, and the one place that builds the application."""

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cases.application import PilarApplication
from cases.store import StoreConfig
from cases.wilayah import DEFAULT_WILAYAH_CSV, Wilayah

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    store: StoreConfig
    wilayah_csv: Path
    secret_key: str | None
    max_body_bytes: int
    audit_secret: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        instance = Path(env.get("PILAR_INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve()
        url = env.get("PILAR_DATABASE_URL") or f"sqlite:///{instance / 'pilar.db'}"
        return cls(
            instance_path=instance,
            store=StoreConfig(url),
            wilayah_csv=Path(env.get("PILAR_WILAYAH_CSV") or DEFAULT_WILAYAH_CSV),
            secret_key=env.get("PILAR_SECRET_KEY") or None,
            max_body_bytes=int(env.get("PILAR_MAX_BODY_BYTES") or 64 * 1024),
            audit_secret=env.get("PILAR_AUDIT_KEY") or None,
        )

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


    def audit_key(self) -> bytes:
        """Keys the seal chain. Kept out of the database, so whoever can write the database
        still cannot forge seals. PILAR_AUDIT_KEY, else derived from the signing key."""
        if self.audit_secret:
            return self.audit_secret.encode()
        return hmac.new(self.token_secret().encode(), b"pilar-audit-seal", hashlib.sha256).digest()


def build_application(settings: Settings, *, create_tables: bool = False) -> PilarApplication:
    from audit.access_log import AccessLog
    from cases.personal_data import PersonalKeys
    from projections.queries import Readers

    readers = Readers(settings.store)
    return PilarApplication(
        settings.store.eventsourcing_env(create_table=create_tables),
        wilayah=Wilayah.from_csv(settings.wilayah_csv),
        access_log=AccessLog(readers),
        personal_keys=PersonalKeys(readers),
    )


def init_store(settings: Settings) -> None:
    """Create every table once, before any worker starts; and the token signing key."""
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    if not settings.secret_key and not settings.secret_key_file.exists():
        settings.secret_key_file.write_text(secrets.token_urlsafe(48))
        settings.secret_key_file.chmod(0o600)
    build_application(settings, create_tables=True).close()

"""Runtime configuration from ``SECOPS_*`` environment variables."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from secops.core.errors import ConfigurationError

PLACEHOLDER_SECRETS = frozenset(
    {"", "changethis", "changeme", "secret", "password", "dev", "development", "example"}
)


class Environment(StrEnum):
    """Where secops runs: development relaxes nothing that matters, production refuses defaults."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


class Settings(BaseSettings):
    """Runtime configuration from SECOPS_* variables; see the README for each setting."""

    model_config = SettingsConfigDict(env_prefix="SECOPS_", frozen=True, extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("secops-data")
    database_url: str | None = None
    secret_key: SecretStr | None = None
    kek_file: Path | None = None
    audit_signing_key_file: Path | None = None
    audit_export_file: Path | None = None
    audit_checkpoint_every: int = Field(default=1000, ge=1)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None
    cors_allow_origins: tuple[str, ...] = ()
    forwarded_allow_ips: str = "127.0.0.1"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # The inventory import (POST /api/v1/accounts/import) only: whole files, one transaction.
    max_import_bytes: int = Field(default=67_108_864, ge=1024)

    log_format: Literal["json", "console"] | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    session_idle_timeout_seconds: int = Field(default=900, ge=60)
    session_absolute_timeout_seconds: int = Field(default=28_800, ge=300)
    step_up_max_age_seconds: int = Field(default=300, ge=30)
    api_key_max_days: int = Field(default=90, ge=1, le=90)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    argon2_max_concurrent: int = Field(default=4, ge=1)
    ministry_name: str = "Ministry of Foreign Affairs"

    # Policy files (policies/*.yaml); None means the policies/ directory of this checkout.
    policies_dir: Path | None = None
    # The worker: how often it looks for due jobs, how long a claimed job's lease lasts, and the
    # schedule of its recurring jobs (0 turns a recurring job off).
    worker_poll_seconds: float = Field(default=5.0, gt=0, le=300)
    worker_lease_seconds: int = Field(default=300, ge=10)
    policy_evaluation_interval_hours: int = Field(default=24, ge=0)
    waiver_warning_interval_hours: int = Field(default=24, ge=0)
    audit_checkpoint_interval_minutes: int = Field(default=60, ge=0)
    # Outbound mail through the ministry's relay; unset keeps notifications queued in the outbox.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_from: str = "secops@localhost"
    # Export of the inventory: at most this many exports per user per hour.
    export_per_hour: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _production_refuses_defaults(self) -> Settings:
        refuse_unsafe_production(self)
        return self

    @property
    def is_production(self) -> bool:
        """True when running in production mode."""
        return self.env is Environment.PRODUCTION

    @property
    def effective_policies_dir(self) -> Path:
        """Where policy files live: the setting, or ``policies/`` beside the package."""
        if self.policies_dir is not None:
            return self.policies_dir
        return Path(__file__).resolve().parents[2] / "policies"

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'db' / 'secops.db').resolve()}"

    @property
    def effective_kek_file(self) -> Path:
        """Where the key-encryption key lives (outside the database directory)."""
        return self.kek_file or self.data_dir / "keys" / "kek.key"

    @property
    def effective_audit_signing_key_file(self) -> Path:
        """Where the Ed25519 key that signs audit checkpoints lives."""
        return self.audit_signing_key_file or self.data_dir / "keys" / "audit-signing.key"

    @property
    def effective_audit_export_file(self) -> Path:
        """The append-only file outside the database that receives every checkpoint."""
        return self.audit_export_file or self.data_dir / "audit" / "checkpoints.jsonl"

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        """JSON lines in production, readable lines in development."""
        if self.log_format:
            return self.log_format
        return "console" if self.env is Environment.DEVELOPMENT else "json"


def refuse_unsafe_production(settings: Settings) -> None:
    """In production, stop with a one-line reason on a placeholder secret or a missing setting.

    Runs when settings are read, and again in ``create_app`` for settings built by other means
    (``model_copy`` skips validation).
    """
    if settings.env is not Environment.PRODUCTION:
        return
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < 32:
        raise ConfigurationError(
            "SECOPS_SECRET_KEY must be set to a random value of at least 32 characters "
            "in production"
        )
    if settings.database_url is None:
        raise ConfigurationError("SECOPS_DATABASE_URL must be set in production")
    if "*" in settings.cors_allow_origins:
        raise ConfigurationError("SECOPS_CORS_ALLOW_ORIGINS may not contain '*'")
    if "*" in (part.strip() for part in settings.forwarded_allow_ips.split(",")):
        raise ConfigurationError(
            "SECOPS_FORWARDED_ALLOW_IPS may not be '*': name the reverse proxy's address"
        )


def normalise_database_url(url: str) -> str:
    """Point plain ``postgresql://`` URLs at the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; any problem becomes one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "SECOPS_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigurationError(f"{name}: {first['msg']}") from None

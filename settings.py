"""Settings: the one configuration object of the hub, read from the environment or an optional `.env`.

Built once in `create_app(settings)` or by a command; never a module-level singleton, so tests and
commands can run side by side with different settings.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Placeholder secrets that the sandbox accepts and production refuses.
SANDBOX_PSEUDONYM_KEY = "sandbox-pseudonym-key-not-for-production"


class SettingsError(ValueError):
    """Raised when the configuration is unsafe or inconsistent (a placeholder secret in production)."""


class Settings(BaseSettings):
    """Configuration of one Leerpoort process; names and defaults as API.md ("Settings") fixes them."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(default="sqlite+aiosqlite:///./leerpoort.db", alias="DATABASE_URL")
    mode: Literal["sandbox", "production"] = Field(default="sandbox", alias="LEERPOORT_MODE")
    issuer: str = Field(default="http://127.0.0.1:8000", alias="LEERPOORT_ISSUER")
    require_dpa: bool | None = Field(default=None, alias="LEERPOORT_REQUIRE_DPA")
    now_override: dt.datetime | None = Field(default=None, alias="LEERPOORT_NOW")
    pseudonym_key: SecretStr = Field(
        default=SecretStr(SANDBOX_PSEUDONYM_KEY), alias="LEERPOORT_PSEUDONYM_KEY"
    )
    data_dir: Path = Field(default=Path("./data"), alias="LEERPOORT_DATA_DIR")
    registry_file: Path | None = Field(default=None, alias="LEERPOORT_REGISTRY_FILE")

    #: An import that would remove more than this share of a school's students is held for confirmation.
    import_removal_limit: float = Field(default=0.3, ge=0.0, le=1.0, alias="LEERPOORT_IMPORT_REMOVAL_LIMIT")
    #: The largest import file accepted (bytes): a `POST /las/edex` body, or the file of an `importEdex`
    #: upload (whose multipart body may be 100 kB larger).
    max_import_bytes: int = Field(default=50_000_000, ge=1, alias="LEERPOORT_MAX_IMPORT_BYTES")
    #: The largest JSON body of `POST /graphql` from a caller with a token (bytes); reading stops there.
    max_request_bytes: int = Field(default=1_000_000, ge=1, alias="LEERPOORT_MAX_REQUEST_BYTES")

    #: Change events older than this are pruned; a cursor from before them must resync.
    feed_retention_days: int = Field(default=90, ge=1, alias="LEERPOORT_FEED_RETENTION_DAYS")
    #: A location closed for good (`closeSchool`) keeps its personal data this many days, then the
    #: maintenance loop deletes it.
    closed_retention_days: int = Field(default=90, ge=0, alias="LEERPOORT_CLOSED_RETENTION_DAYS")

    max_depth: int = Field(default=10, alias="LEERPOORT_MAX_DEPTH")
    max_aliases: int = Field(default=20, alias="LEERPOORT_MAX_ALIASES")
    max_tokens: int = Field(default=5000, alias="LEERPOORT_MAX_TOKENS")
    max_page_size: int = Field(default=1000, alias="LEERPOORT_MAX_PAGE_SIZE")
    max_cost: int = Field(default=100_000, alias="LEERPOORT_MAX_COST")
    #: Whether reads whose whole selection the hub understands (a partner's full sync and its feed) skip
    #: the general GraphQL executor (`schema.compiled`); off only to measure the general path against it.
    compiled_reads: bool = Field(default=True, alias="LEERPOORT_COMPILED_READS")
    #: Subscriptions one WebSocket connection may hold at a time.
    max_subscriptions_per_connection: int = Field(
        default=5, ge=1, alias="LEERPOORT_MAX_SUBSCRIPTIONS_PER_CONNECTION"
    )
    #: Subscriptions one partner (or staff account, or the operator) may hold at a time in one process,
    #: across all its connections.
    max_subscriptions_per_partner: int = Field(
        default=20, ge=1, alias="LEERPOORT_MAX_SUBSCRIPTIONS_PER_PARTNER"
    )

    #: Failed credential checks of one account (`signIn`) or one client (`/oauth/token`) within the window;
    #: beyond them every attempt is refused unchecked until the oldest counted failure leaves the window.
    credential_failures_per_subject: int = Field(default=10, ge=1, alias="LEERPOORT_CREDENTIAL_FAILURES")
    #: Failed credential checks from one network address, whatever accounts or clients they name (higher:
    #: a school's staff may share one address).
    credential_failures_per_address: int = Field(default=30, ge=1, alias="LEERPOORT_ADDRESS_FAILURES")
    #: The window (seconds) in which failed credential checks are counted.
    credential_window_seconds: int = Field(default=900, ge=1, alias="LEERPOORT_CREDENTIAL_WINDOW_SECONDS")

    #: Outgoing mail: `smtp://host:port`, with credentials and STARTTLS when given
    #: (`smtp://user:pass@host:587?starttls=true`; `smtps://` for TLS from the start). Unset: messages are
    #: written to `LEERPOORT_DATA_DIR`/outbox as .eml files instead (the sandbox's way).
    smtp_url: SecretStr | None = Field(default=None, alias="LEERPOORT_SMTP_URL")
    #: The sender of the hub's mail (an address, optionally with a display name).
    mail_from: str = Field(default="Leerpoort <noreply@leerpoort.invalid>", alias="LEERPOORT_MAIL_FROM")
    #: Where people reach the hub's pages: the base of the links in mail (activation, password reset).
    public_url: str = Field(default="http://127.0.0.1:8000", alias="LEERPOORT_PUBLIC_URL")
    #: How often (seconds) the server's background task looks for queued mail that is due.
    mail_poll_seconds: float = Field(default=5.0, gt=0, alias="LEERPOORT_MAIL_POLL_SECONDS")
    #: How long (seconds) one SMTP delivery may take before it counts as failed and is retried later.
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, alias="LEERPOORT_SMTP_TIMEOUT_SECONDS")
    #: How long an activation link stays valid (days).
    activation_link_days: int = Field(default=7, ge=1, alias="LEERPOORT_ACTIVATION_LINK_DAYS")
    #: How long a printed home-login activation code stays valid (days): long enough for a letter home.
    home_code_days: int = Field(default=30, ge=1, alias="LEERPOORT_HOME_CODE_DAYS")
    #: How long a password-reset link stays valid (hours).
    reset_link_hours: int = Field(default=2, ge=1, alias="LEERPOORT_RESET_LINK_HOURS")

    #: Reverse proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` names the client;
    #: a request from anywhere else is taken to come from its peer address, whatever headers it sends.
    trusted_proxies: str = Field(default="", alias="LEERPOORT_TRUSTED_PROXIES")

    #: Hosts a network provider's JWKS URL may point to although they are not public internet addresses
    #: (host names, addresses or CIDR ranges, comma-separated): an on-premises provider, or a test's
    #: local server. Everything else that resolves to a loopback, private, link-local, multicast or
    #: reserved address is refused.
    jwks_allowed_hosts: str = Field(default="", alias="LEERPOORT_JWKS_ALLOWED_HOSTS")

    @field_validator("trusted_proxies")
    @classmethod
    def _readable_proxies(cls, value: str) -> str:
        """Refuse to start with a proxy that is not an address or a range (a typo would trust none)."""
        for text in value.split(","):
            if text.strip():
                try:
                    ipaddress.ip_network(text.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"LEERPOORT_TRUSTED_PROXIES: {text.strip()!r} is not an address or range"
                    ) from None
        return value

    @property
    def proxies(self) -> tuple[str, ...]:
        """The trusted proxies, one address or range each."""
        return tuple(text.strip() for text in self.trusted_proxies.split(",") if text.strip())

    @property
    def jwks_hosts(self) -> tuple[str, ...]:
        """The hosts and ranges a JWKS URL may point to besides public addresses."""
        return tuple(text.strip() for text in self.jwks_allowed_hosts.split(",") if text.strip())

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        """Accept the plain `postgresql://` form that hosting platforms hand out and use asyncpg for it."""
        for plain in ("postgresql://", "postgres://"):
            if value.startswith(plain):
                return "postgresql+asyncpg://" + value.removeprefix(plain)
        return value

    @field_validator("now_override", mode="after")
    @classmethod
    def _aware_now(cls, value: dt.datetime | None) -> dt.datetime | None:
        """A clock override without a zone is read as UTC, so comparisons never mix naive and aware times."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.mode == "production":
            if self.now_override is not None:
                raise SettingsError("LEERPOORT_NOW is a sandbox setting; production refuses a clock override")
            if self.pseudonym_key.get_secret_value() == SANDBOX_PSEUDONYM_KEY:
                raise SettingsError("LEERPOORT_PSEUDONYM_KEY must be set to a real secret in production")
        return self

    @property
    def sandbox(self) -> bool:
        """Whether this process runs as the sandbox (explorer on, clock override honoured)."""
        return self.mode == "sandbox"

    @property
    def dpa_required(self) -> bool:
        """Whether an unsigned board DPA blocks partner flows: on unless the operator switched it off."""
        return True if self.require_dpa is None else self.require_dpa

    @property
    def engine_name(self) -> Literal["sqlite", "postgresql"]:
        """The database engine that `database_url` selects."""
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    def now(self) -> dt.datetime:
        """The hub's notion of now: the sandbox clock override when set, else the real UTC time."""
        return self.now_override or dt.datetime.now(dt.UTC)

"""Settings: every knob in one frozen object, built at the edge and passed down."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import platformdirs
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from agentledger.errors import ConfigError

if TYPE_CHECKING:
    from limits import RateLimitItem

# PostgreSQL's integer settings (statement_timeout and the like) hold at most this.
_PG_INT_MAX = 2**31 - 1


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("agentledger"))


class Settings(BaseSettings):
    """agentledger's configuration.

    Read from ``AGENTLEDGER_*`` environment variables (and ``DATABASE_URL``) only when
    :meth:`from_env` is called; nothing is read at import time.
    """

    model_config = SettingsConfigDict(env_prefix="AGENTLEDGER_", frozen=True, extra="forbid")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "AGENTLEDGER_DATABASE_URL", "database_url"),
        description="Owner connection (migrations, admin). Unset: the embedded server.",
    )
    app_url: str | None = Field(
        default=None, description="Application connection; default: database_url as app_role."
    )
    read_database_url: str | None = Field(
        default=None,
        description="Streaming standby(s) for read-only operations (docs/scaling.md); "
        "a multi-host URL with target_session_attrs=prefer-standby works. Unset: all on "
        "the primary.",
    )
    pooler: Literal["session", "transaction"] = Field(
        default="session",
        description="How the application connections reach PostgreSQL: directly or through "
        "a session-mode pooler ('session'), or through a transaction-mode pooler such as "
        "PgBouncer's pool_mode=transaction ('transaction': no prepared statements, the "
        "session's settings sent with each transaction, LISTEN and leader locks on "
        "session_url; docs/deploying.md).",
    )
    session_url: str | None = Field(
        default=None,
        description="With pooler=transaction: a direct (or session-mode) connection for what "
        "needs a session of its own, the wake-ups' LISTEN and leader locks. Unset: readers "
        "and workers poll, and leader locks are refused.",
    )
    read_pool_timeout: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Seconds a read waits for a standby connection before it goes to the primary.",
    )
    read_retry_interval: float = Field(
        default=5.0,
        ge=0,
        le=86_400,
        allow_inf_nan=False,
        description="After a standby fails, reads go to the primary this many seconds "
        "before it is tried again.",
    )
    read_your_writes_wait: float = Field(
        default=0.2,
        ge=0,
        le=60,
        allow_inf_nan=False,
        description="How long a read-your-writes read waits for the standby to replay "
        "its scope's last write before it goes to the primary.",
    )
    app_role: str = Field(default="agentledger_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    app_password: SecretStr | None = None
    data_dir: Path = Field(default_factory=default_data_dir)
    pool_min_size: int = Field(default=1, ge=0, le=1000)
    pool_max_size: int = Field(default=10, ge=1, le=1000)
    pool_timeout: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Seconds to wait for a connection.",
    )
    connect_timeout: int = Field(default=5, ge=1, le=600)
    statement_timeout_ms: int = Field(default=30_000, ge=0, le=_PG_INT_MAX)
    idle_in_transaction_timeout_ms: int = Field(
        default=60_000,
        ge=0,
        le=_PG_INT_MAX,
        description="End a library session left idle inside a transaction this long (0: never).",
    )
    retry_attempts: int = Field(default=3, ge=1, le=20)
    access_flush_interval: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        description="Seconds touched memory reads are counted before the counts are written "
        "(0: each in the read's own transaction).",
    )
    spool_dir: Path | None = Field(
        default=None, description="Keep spoolable writes here while PostgreSQL is down."
    )
    spool_replay_modules: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Module prefixes (besides agentledger's) whose spoolable operations a "
        'spool replay may import, each ending in a dot: ["myapp."]; from the environment a '
        "comma list or a JSON list.",
    )
    migrations: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="The application's own Alembic revision folders, run after the core's: "
        "package paths ('myapp.migrations') or directories ('./migrations'); from the "
        "environment a comma list or a JSON list. Installed packages' "
        "'agentledger.migrations' entry points are added to them.",
    )
    admin_key: SecretStr | None = Field(
        default=None, description="Platform admin API key (tenant administration over HTTP)."
    )
    max_body_bytes: int = Field(default=2_000_000, ge=1_000)
    rate_limit: str | None = Field(
        default=None,
        description="Requests each API key (or, without one, each address) may make to "
        "one API process: '100/second', or several as '100/second;3000/minute' (each amount "
        "and period 1 or more). Over it: 429 with Retry-After. Unset: no limit.",
    )
    max_streams_per_key: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="Server-sent event streams one API key may hold open on one API "
        "process at once (429 past it).",
    )
    retry_backoff: float = Field(
        default=0.2,
        ge=0,
        le=60,
        allow_inf_nan=False,
        description="First retry delay, doubled each time.",
    )

    @field_validator("database_url", "app_url", "read_database_url", "session_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql://")
        return value

    @field_validator("session_url")
    @classmethod
    def _session_needs_pooler(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("pooler") != "transaction":
            raise ValueError("is used only with pooler=transaction (AGENTLEDGER_POOLER)")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str | None) -> str | None:
        if value is not None:
            rate_limits(value)  # ValueError: the setting's error names the variable and text
        return value

    @field_validator("spool_replay_modules")
    @classmethod
    def _module_prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in value:
            parts = prefix.removesuffix(".").split(".")
            if not prefix.endswith(".") or not all(part.isidentifier() for part in parts):
                raise ValueError(f"{prefix!r} is not a module prefix such as 'myapp.'")
        return value

    @model_validator(mode="after")
    def _pool_holds_its_minimum(self) -> Settings:
        """Two settings at odds: the message names both, and which one was left as is."""
        if self.pool_max_size < self.pool_min_size:

            def named(field: str) -> str:
                default = "" if field in self.model_fields_set else ", the default"
                return f"{field} ({_env_name(field)}) = {getattr(self, field)}{default}"

            raise PydanticCustomError(
                "pool_sizes",
                f"{named('pool_min_size')} is above {named('pool_max_size')}: the pool's "
                "minimum must be at most its maximum",
                {"field": "pool_max_size"},
            )
        return self

    @field_validator("data_dir", "spool_dir")
    @classmethod
    def _a_directory(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError("names a file, not a directory")
        return value

    @field_validator("spool_replay_modules", mode="before")
    @classmethod
    def _prefix_list(cls, value: Any) -> Any:
        """From the environment, a comma list or a JSON list (each item then checked)."""
        return _env_list(value) if isinstance(value, str) else value

    @field_validator("migrations", mode="before")
    @classmethod
    def _folder_list(cls, value: Any) -> Any:
        """A comma list or a JSON list from the environment; blanks dropped."""
        if isinstance(value, str):
            value = _env_list(value)
        if isinstance(value, list | tuple):
            value = tuple(item.strip() if isinstance(item, str) else item for item in value)
            return tuple(item for item in value if item != "")
        return value

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Build settings from the environment; a bad value raises ConfigError naming it."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise _config_error(exc, environment=True) from None
        except SettingsError as exc:  # a variable the environment source could not read
            raise ConfigError(f"the environment holds an unreadable setting: {exc}") from None

    @classmethod
    def build(cls, **values: Any) -> Settings:
        """Build settings from arguments alone, ignoring the environment."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise _config_error(exc) from None

    def with_(self, **changes: Any) -> Settings:
        """A copy with some values replaced (validated)."""
        return Settings.build(**{**self.model_dump(), **changes})

    @property
    def embedded(self) -> bool:
        return self.database_url is None


def rate_limits(text: str) -> list[RateLimitItem]:
    """``"100/second;3000/minute"`` as the ``limits`` package's items. ValueError for text
    that does not parse, an amount below 1 (which would refuse every request) or a period
    of 0 (which ``limits`` would read as 1)."""
    from limits import parse_many
    from limits.util import SEPARATORS, SINGLE_EXPR

    items = parse_many(text)  # ValueError naming the text
    if not items:
        raise ValueError(f"no rate limit in {text!r}")
    for part in SEPARATORS.split(text):
        amount, _, period, _ = SINGLE_EXPR.match(part).groups()  # type: ignore[union-attr]
        if int(amount) < 1:
            raise ValueError(f"{part.strip()!r} allows no request: the amount must be 1 or more")
        if period is not None and int(period) < 1:
            raise ValueError(f"{part.strip()!r} has a period of 0: it must be 1 or more")
    return items


def _env_list(text: str) -> Any:
    """A list setting as the environment spells it: a JSON list, or a comma list (blanks
    dropped). Bad JSON is ValueError, which the setting's error names."""
    if text.lstrip().startswith("["):
        return json.loads(text)
    return tuple(item.strip() for item in text.split(",") if item.strip())


# A URL's password: it stays out of messages (and the logs).
_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@/\s]*)@")


def redacted(text: str) -> str:
    """``text`` with the password of any URL in it shown as ***."""
    return _PASSWORD.sub(r"\1***@", text)


def password_in(url: str | None) -> str | None:
    """The password of ``url`` as written (percent-encoding and all), if it has one."""
    found = _PASSWORD.search(url or "")
    return found.group(2) or None if found else None


def _aliases(field: str) -> list[str]:
    """The environment names a field also answers to (``DATABASE_URL``), in precedence."""
    info = Settings.model_fields.get(field)
    alias = None if info is None else info.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else []
    return [c for c in choices if isinstance(c, str) and c != field]


def _env_name(field: str, value: Any = None) -> str:
    """The variable that sets ``field``: given the ``value`` read, the environment name
    that holds it, as spelled there (names are case-insensitive); otherwise its
    documented name."""
    names = _aliases(field) or [f"AGENTLEDGER_{field.upper()}"]
    if isinstance(value, str):
        spelled = {name.upper(): name for name in os.environ if os.environ[name] == value}
        for name in names:
            if name.upper() in spelled:
                return spelled[name.upper()]
    return names[0]


def _config_error(exc: ValidationError, *, environment: bool = False) -> ConfigError:
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    if not loc:  # a rule across settings, whose message names them
        field = (first.get("ctx") or {}).get("field")
        return ConfigError(f"settings are invalid: {first['msg']}", field=field)
    # An alias key (DATABASE_URL) stands for its field, and is named as the user spelled it.
    field = next((f for f in Settings.model_fields if loc[0] in _aliases(f)), loc[0])
    value = first.get("input")
    env = _env_name(field, value if environment else None)
    key = ".".join([field, *loc[1:]])
    if isinstance(value, str):
        value = redacted(value)
    return ConfigError(f"setting {key} ({env}) = {value!r} is invalid: {first['msg']}", field=field)

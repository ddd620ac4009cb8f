"""Typed settings from BVTE_* environment variables (and an optional .env file).

Imports nothing of ours. A bad value stops start-up with one bilingual sentence
naming the variable (see `load_settings`), never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ConfigError", "Settings", "load_settings"]

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "replace-me", "xxx", "token"}


class ConfigError(Exception):
    """A setting is missing or malformed; the message is ready for the user."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BVTE_", env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    database_url: str = "sqlite+aiosqlite:///bvte.db"
    telegram_token: SecretStr | None = None
    telegram_base_url: str | None = None
    zalo_token: SecretStr | None = None
    zalo_base_url: str = "https://bot-api.zaloplatforms.com"
    # Webhook mode: public URL prefix, listen address and the secret header value.
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    webhook_secret: SecretStr | None = None
    secret_key: SecretStr | None = None
    secret_key_file: Path = Path("bvte-secret.key")
    timezone: str = "Asia/Ho_Chi_Minh"
    default_commune: str | None = None
    # Shown by /sos when the user's commune is unknown or has no hotline of its own.
    default_hotline: str | None = None
    locale: str = "vi"
    log_level: str = "INFO"
    tick_seconds: float = Field(default=5.0, gt=0)
    # Days before a plan task's due date when its owners are reminded.
    plan_reminder_offsets: str = "14,7,3,1,0"
    # Where the trained understanding models are cached between starts: "auto" is
    # $XDG_CACHE_HOME/bvte (~/.cache/bvte), "off" trains at every start.
    model_cache_dir: str = "auto"

    @property
    def model_cache_path(self) -> Path | None:
        value = self.model_cache_dir.strip()
        if value.lower() in {"", "off", "none", "0"}:
            return None
        if value.lower() == "auto":
            from knowledge.model_cache import default_cache_dir

            return default_cache_dir()
        return Path(value).expanduser()

    @field_validator("plan_reminder_offsets")
    @classmethod
    def _check_offsets(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts or not all(p.isdigit() and int(p) <= 365 for p in parts):
            raise ValueError("a comma-separated list of whole days, e.g. 14,7,3,1,0")
        return ",".join(parts)

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL") from None
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError("only sqlite and postgresql are supported")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone") from None
        return value

    @field_validator("telegram_token", "zalo_token", "webhook_secret", "secret_key")
    @classmethod
    def _no_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value().strip()
        if not raw:
            return None
        if raw.lower() in PLACEHOLDER_SECRETS:
            raise ValueError("placeholder value, set a real secret")
        return SecretStr(raw)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_settings(**overrides: object) -> Settings:
    """Build settings or raise ConfigError with one sentence naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err.get("loc") else "?"
        var = f"BVTE_{field.upper()}"
        reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        raise ConfigError(
            f"Cấu hình sai: biến {var} không hợp lệ ({reason}). / "
            f"Configuration error: {var} is invalid ({reason})."
        ) from None

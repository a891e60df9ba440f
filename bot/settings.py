"""Settings from the environment (DESIGN.md, Configuration). One object, read once at start."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./marugoto.db"


class Settings(BaseSettings):
    """Every knob an operator can turn. Secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    line_channel_secret: SecretStr | None = Field(None, validation_alias="LINE_CHANNEL_SECRET")
    line_channel_access_token: SecretStr | None = Field(
        None, validation_alias="LINE_CHANNEL_ACCESS_TOKEN"
    )
    line_api_base_url: str = Field("https://api.line.me", validation_alias="LINE_API_BASE_URL")
    #: LINE's data host (rich menu images); tests point it at the fake, like the one above.
    line_api_data_base_url: str = Field(
        "https://api-data.line.me", validation_alias="LINE_API_DATA_BASE_URL"
    )
    #: Seconds for one Messaging API call; LINE answers fast or not at all.
    line_timeout_seconds: float = Field(5.0, validation_alias="LINE_TIMEOUT_SECONDS")
    admin_username: str | None = Field(None, validation_alias="MARUGOTO_ADMIN_USERNAME")
    admin_password: SecretStr | None = Field(None, validation_alias="MARUGOTO_ADMIN_PASSWORD")
    demo: bool = Field(False, validation_alias="MARUGOTO_DEMO")
    #: "production" turns on Secure cookies and hides /docs; "development" for local work.
    environment: Literal["production", "development"] = Field(
        "production", validation_alias=AliasChoices("MARUGOTO_ENV", "MARUGOTO_ENVIRONMENT")
    )
    #: Signs staff session cookies and CSRF tokens. Generated per process when unset
    #: (sessions then end on restart), so set it in any real deployment.
    secret_key: SecretStr | None = Field(None, validation_alias="MARUGOTO_SECRET_KEY")
    webhook_max_bytes: int = Field(1024 * 1024, validation_alias="MARUGOTO_WEBHOOK_MAX_BYTES")
    #: Resident message text older than this is purged by the scheduler (TESTING.md F3).
    retention_days: int = Field(365, validation_alias="MARUGOTO_RETENTION_DAYS")
    #: Run the embedded worker/scheduler loops in `marugoto serve --role all`.
    worker_poll_seconds: float = Field(0.2, validation_alias="MARUGOTO_WORKER_POLL_SECONDS")
    #: How long a worker holds a claimed inbox event before another may take it over
    #: (crash safety: TESTING.md H1/H5). Longer than the slowest conversation step.
    inbox_lease_seconds: float = Field(60.0, validation_alias="MARUGOTO_INBOX_LEASE_SECONDS")
    #: Inbox events claimed (and committed) together by one worker round.
    inbox_batch_size: int = Field(32, validation_alias="MARUGOTO_INBOX_BATCH_SIZE")
    #: Seconds uvicorn waits for in-flight requests on SIGTERM before closing them.
    shutdown_grace_seconds: float = Field(10.0, validation_alias="MARUGOTO_SHUTDOWN_GRACE_SECONDS")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

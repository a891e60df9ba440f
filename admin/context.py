"""Everything the staff UI's routes share: database, settings, keys, policy, templates."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bot.actions.staff import LoginPolicy
from bot.db import Database
from bot.models.base import utcnow
from bot.settings import Settings


@dataclass
class AdminContext:
    settings: Settings
    secret: bytes
    #: The database, or a function giving it (the app connects it in its lifespan).
    database_source: Database | Callable[[], Database]
    policy: LoginPolicy = field(default_factory=LoginPolicy)
    #: Tests move time forward to check the idle and absolute timeouts.
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def build(
        cls,
        settings: Settings,
        database: Database | Callable[[], Database],
        *,
        policy: LoginPolicy | None = None,
    ) -> AdminContext:
        key = settings.secret_key.get_secret_value().encode() if settings.secret_key else None
        return cls(
            settings=settings,
            secret=key or secrets.token_bytes(32),
            database_source=database,
            policy=policy or LoginPolicy(),
        )

    @property
    def database(self) -> Database:
        source = self.database_source
        return source if isinstance(source, Database) else source()

    @property
    def development(self) -> bool:
        return self.settings.environment == "development"

    @property
    def cookie_name(self) -> str:
        # __Host- binds the cookie to this exact host, path / and Secure (no Domain possible);
        # browsers refuse it over plain http, so local development uses a plain name.
        return "marugoto_staff" if self.development else "__Host-marugoto_staff"

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read session whose objects stay usable after it ends (for the templates)."""
        with self.database.read() as session:
            yield session
            session.expunge_all()

    def sign(self, purpose: str, value: str) -> str:
        message = f"{purpose}:{value}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

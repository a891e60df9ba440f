"""Staff accounts and sign-in: passwords (argon2id), sessions, throttling, account changes.

Every function runs inside the caller's `Database.write()` transaction and writes its own
content-free audit row. Passwords and session tokens never reach a log or the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.actions import audit
from bot.models.base import utcnow
from bot.models.staff import ROLES, LoginAttempt, StaffSession, StaffUser

log = logging.getLogger(__name__)

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
USERNAME_MAX_LENGTH = 64

#: argon2-cffi's defaults are RFC 9106's second recommendation for argon2id (t=3, 64 MiB, p=4).
_HASHER = PasswordHasher()


@dataclass(frozen=True)
class LoginPolicy:
    """Throttling and session lifetimes. Tests shorten them; operators rarely need to."""

    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    failure_window: timedelta = timedelta(minutes=15)
    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_timeout: timedelta = timedelta(hours=10)
    #: last_seen_at is written at most this often (a write per click would be wasteful).
    touch_interval: timedelta = timedelta(seconds=60)


class PasswordRejected(ValueError):
    """The password breaks the policy; `reason` is a code the UI turns into Japanese."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccountError(ValueError):
    """An account change that cannot be made (unknown user, duplicate name, bad role)."""


@cache
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def check_password_policy(password: str, username: str = "") -> None:
    """Refuse short, over-long, common, repetitive or name-containing passwords."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordRejected("too_short")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordRejected("too_long")
    folded = unicodedata.normalize("NFKC", password).casefold()
    core = folded.rstrip("0123456789!@#$%^&*?.-_ ")
    common = _common_passwords()
    if folded in common or core in common or (core and core * 2 == folded):
        raise PasswordRejected("common")
    if any(folded == word * (len(folded) // max(len(word), 1)) for word in common if word):
        raise PasswordRejected("common")
    if len(set(folded)) < 5:
        raise PasswordRejected("repetitive")
    name = username.strip().casefold()
    if len(name) >= 3 and name in folded:
        raise PasswordRejected("contains_username")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so timing does not tell."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip().casefold()


def username_key(secret: bytes, username: str) -> str:
    """A keyed hash of the name typed, for throttling without storing what was typed."""
    return hmac.new(secret, normalise_username(username).encode(), hashlib.sha256).hexdigest()


def session_id_for(token: str) -> str:
    """The stored id of a session cookie token (sha256; the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _check_username(username: str) -> str:
    name = normalise_username(username)
    if not name or len(name) > USERNAME_MAX_LENGTH:
        raise AccountError("username must be 1-64 characters")
    if any(not (ch.isalnum() or ch in "._-@") for ch in name):
        raise AccountError("username may contain letters, digits and . _ - @ only")
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    return role


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str = "staff",
    display_name: str = "",
    actor_type: str = "staff",
    actor_id: int | str | None = None,
    ip: str | None = None,
) -> StaffUser:
    """Create an account (the password must pass the policy)."""
    name = _check_username(username)
    _check_role(role)
    check_password_policy(password, name)
    exists = session.scalar(select(StaffUser.id).where(StaffUser.username == name))
    if exists is not None:
        raise AccountError("an account with this username already exists")
    now = utcnow()
    user = StaffUser(
        username=name,
        display_name=display_name.strip()[:64],
        password_hash=hash_password(password),
        role=role,
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor_type=actor_type,
        actor_id=actor_id,
        action="account.create",
        target_type="staff_user",
        target_id=user.id,
        detail={"role": role},
        ip=ip,
    )
    return user


def _get_user(session: Session, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise AccountError("no such account")
    return user


def revoke_user_sessions(session: Session, user_id: int) -> int:
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked.is_(False))
        .values(revoked=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def set_role(
    session: Session, *, user_id: int, role: str, actor_id: int, ip: str | None = None
) -> StaffUser:
    """Change a role; the account's sessions end so the new rights apply at once."""
    _check_role(role)
    user = _get_user(session, user_id)
    old = user.role
    user.role = role
    user.updated_at = utcnow()
    revoke_user_sessions(session, user_id)
    audit.record(
        session,
        actor_type="staff",
        actor_id=actor_id,
        action="account.role",
        target_type="staff_user",
        target_id=user_id,
        detail={"from": old, "to": role},
        ip=ip,
    )
    return user


def set_disabled(
    session: Session, *, user_id: int, disabled: bool, actor_id: int, ip: str | None = None
) -> StaffUser:
    """Disable (every session of the account stops at once) or enable an account."""
    user = _get_user(session, user_id)
    user.disabled = disabled
    user.updated_at = utcnow()
    if disabled:
        revoke_user_sessions(session, user_id)
    audit.record(
        session,
        actor_type="staff",
        actor_id=actor_id,
        action="account.disable" if disabled else "account.enable",
        target_type="staff_user",
        target_id=user_id,
        ip=ip,
    )
    return user


def set_password(
    session: Session,
    *,
    user_id: int,
    password: str,
    actor_id: int | None,
    actor_type: str = "staff",
    ip: str | None = None,
) -> StaffUser:
    """Set a new password (policy-checked); the account's sessions end."""
    user = _get_user(session, user_id)
    check_password_policy(password, user.username)
    user.password_hash = hash_password(password)
    user.updated_at = utcnow()
    revoke_user_sessions(session, user_id)
    audit.record(
        session,
        actor_type=actor_type,
        actor_id=actor_id,
        action="account.password",
        target_type="staff_user",
        target_id=user_id,
        ip=ip,
    )
    return user


@dataclass(frozen=True)
class LoginResult:
    """`token` is the new session cookie value (only on success)."""

    ok: bool
    user_id: int | None = None
    token: str | None = None
    #: ok | bad_credentials | locked — for the audit log; the page says the same for all.
    reason: str = "bad_credentials"


def _failures_since(
    session: Session, column: InstrumentedAttribute[str], value: str, since: datetime
) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(column == value, LoginAttempt.at >= since, LoginAttempt.success.is_(False))
    )
    return int(count or 0)


def _last_success(session: Session, key: str) -> datetime | None:
    return session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username_key == key, LoginAttempt.success.is_(True)
        )
    )


def is_locked(session: Session, *, key: str, ip: str, policy: LoginPolicy, now: datetime) -> bool:
    """Too many recent failures for this name (since its last success) or this address."""
    since = now - policy.failure_window
    last_ok = _last_success(session, key)
    account_since = max(since, last_ok) if last_ok is not None else since
    if _failures_since(session, LoginAttempt.username_key, key, account_since) >= (
        policy.max_failures_per_account
    ):
        return True
    return _failures_since(session, LoginAttempt.ip, ip, since) >= policy.max_failures_per_address


def log_in(
    session: Session,
    *,
    username: str,
    password: str,
    ip: str | None,
    secret: bytes,
    policy: LoginPolicy,
    now: datetime | None = None,
) -> LoginResult:
    """Check a password, throttled per account and per address, and open a session.

    During a lockout even the right password fails. The caller shows one message for every
    failure, so the answer never tells whether the account exists.
    """
    now = now or utcnow()
    address = (ip or "")[:64]
    key = username_key(secret, username)
    locked = is_locked(session, key=key, ip=address, policy=policy, now=now)
    name = normalise_username(username)
    user = session.scalar(select(StaffUser).where(StaffUser.username == name)) if name else None
    # Always pay for one argon2 verification, whatever the outcome will be.
    password_ok = _verify(user.password_hash if user else _dummy_hash(), password)
    ok = bool(user and password_ok and not user.disabled and not locked)
    session.add(LoginAttempt(at=now, username_key=key, ip=address, success=ok))
    reason = "ok" if ok else ("locked" if locked else "bad_credentials")
    audit.record(
        session,
        actor_type="staff",
        actor_id=user.id if user else None,
        action="login.ok" if ok else "login.fail",
        target_type="staff_user",
        target_id=user.id if user else None,
        detail={"reason": reason},
        ip=address or None,
    )
    if not ok or user is None:
        if locked:
            log.warning("login refused during lockout")
        return LoginResult(ok=False, reason=reason)
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id=session_id_for(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + policy.absolute_timeout,
            revoked=False,
        )
    )
    return LoginResult(ok=True, user_id=user.id, token=token, reason="ok")


def log_out(session: Session, *, session_id: str, ip: str | None = None) -> None:
    """End a session server-side (the cookie alone is worth nothing afterwards)."""
    row = session.get(StaffSession, session_id)
    if row is None or row.revoked:
        return
    row.revoked = True
    audit.record(
        session,
        actor_type="staff",
        actor_id=row.user_id,
        action="logout",
        target_type="staff_user",
        target_id=row.user_id,
        ip=ip,
    )


def touch_session(session: Session, *, session_id: str, now: datetime | None = None) -> None:
    """Record activity (for the idle timeout)."""
    session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_id, StaffSession.revoked.is_(False))
        .values(last_seen_at=now or utcnow())
    )


def ensure_user(
    session: Session, *, username: str, password: str, role: str = "admin"
) -> StaffUser | None:
    """Create the account unless one with this name exists (first admin on start)."""
    name = normalise_username(username)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == name)) is not None:
        return None
    return create_user(session, username=name, password=password, role=role, actor_type="system")


def purge_stale(
    session: Session, *, now: datetime, policy: LoginPolicy, keep_days: int = 30
) -> int:
    """Delete sessions that can no longer be used and old login attempts (for a scheduler
    job). Audit rows are kept; these tables only serve authentication."""
    cutoff = now - timedelta(days=keep_days)
    sessions = session.execute(
        delete(StaffSession).where(
            (StaffSession.expires_at < now)
            | (StaffSession.last_seen_at < now - policy.idle_timeout)
            | StaffSession.revoked.is_(True)
        )
    )
    attempts = session.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff))
    return int(getattr(sessions, "rowcount", 0) or 0) + int(getattr(attempts, "rowcount", 0) or 0)

"""Accounts and server-side sessions of the web page, on the catalog's `users` and `web_sessions` tables.

Passwords are stored only as argon2id hashes (argon2-cffi's defaults follow RFC 9106). A session is a
random token held in the browser's cookie; the catalog keeps only its SHA-256, so a copy of the catalog
cannot be used to take over a session. Each session has its own CSRF token for the forms.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from archiver.catalog.tables import owned_by, users, web_sessions
from archiver.errors import BadInputError, NotFoundError

ROLES = ("communicator", "registrar", "admin")
ROLE_NAMES = {"communicator": "Kommunikatör", "registrar": "Registrator", "admin": "Administratör"}
SESSION_LIFETIME = timedelta(hours=8)
MIN_PASSWORD_LENGTH = 10
NAME = re.compile(r"^[\w.@-]{1,80}$")

_hasher = PasswordHasher()  # argon2id
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))  # verified against for unknown names: same time taken


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new_user(name: str, role: str, password: str) -> None:
    if not NAME.match(name or ""):
        raise BadInputError("the user name must be 1-80 letters, digits or . _ @ -")
    if role not in ROLES:
        raise BadInputError(f"the role must be one of {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise BadInputError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")


def _scope(where) -> tuple[Engine, object, str | None]:
    """`where` is one organisation's catalog (its accounts only) or an Engine (every account: the tests).

    Names are unique in the whole catalog: a person is one account, in one organisation."""
    org = getattr(where, "org", None)
    return getattr(where, "engine", where), owned_by(users, org), org


def _user(row) -> User:
    return User(row.name, row.role, row.created_at, row.disabled_at)


def add_user(where, name: str, role: str, password: str, now: datetime | None = None) -> User:
    """A new account with an argon2id hash of its password; an existing name is refused."""
    engine, _mine, org = _scope(where)
    check_new_user(name, role, password)
    at = _now(now)
    try:
        with engine.begin() as conn:
            conn.execute(insert(users).values(name=name, org=org, role=role, password_hash=hash_password(password),
                                              created_at=at, disabled_at=None))
    except IntegrityError:
        raise BadInputError(f"there is already a user named {name!r}") from None
    return User(name, role, at, None)


def set_password(where, name: str, password: str) -> None:
    """Replace an account's password (and end its sessions, which the old password opened)."""
    engine, mine, _org = _scope(where)
    check_new_user(name, ROLES[0], password)
    with engine.begin() as conn:
        if conn.execute(update(users).where(users.c.name == name, mine)
                        .values(password_hash=hash_password(password))).rowcount == 0:
            raise NotFoundError(f"no user named {name!r}")
        conn.execute(delete(web_sessions).where(web_sessions.c.user_name == name))


def get_user(where, name: str) -> User | None:
    engine, mine, _org = _scope(where)
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name, mine)).first()
    return _user(row) if row is not None else None


def list_users(where) -> list[User]:
    engine, mine, _org = _scope(where)
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(users).where(mine).order_by(users.c.name))]


def disable_user(where, name: str, now: datetime | None = None) -> User:
    """Disable an account and end all its sessions; the row stays, for the audit trail."""
    engine, mine, _org = _scope(where)
    with engine.begin() as conn:
        row = conn.execute(select(users).where(users.c.name == name, mine)).first()
        if row is None:
            raise NotFoundError(f"no user named {name!r}")
        if row.disabled_at is None:
            conn.execute(update(users).where(users.c.name == name).values(disabled_at=_now(now)))
        conn.execute(delete(web_sessions).where(web_sessions.c.user_name == name))
        row = conn.execute(select(users).where(users.c.name == name, mine)).first()
    return _user(row)


def authenticate(where, name: str, password: str) -> User | None:
    """The user when the name and password match an active account, else None.

    An unknown name still costs one hash verification, so timing does not tell which names exist.
    """
    engine, mine, _org = _scope(where)
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name, mine)).first()
    stored = row.password_hash if row is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(stored):
        with engine.begin() as conn:
            conn.execute(update(users).where(users.c.name == name).values(password_hash=hash_password(password)))
    return _user(row)


def create_session(where, name: str, now: datetime | None = None,
                   lifetime: timedelta = SESSION_LIFETIME) -> tuple[str, Session]:
    """A new session; returns the token for the cookie (only its SHA-256 is stored) and the session."""
    engine, _mine, _org = _scope(where)
    at = _now(now)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < at))  # tidy up expired ones
        conn.execute(insert(web_sessions).values(token_sha256=token_sha256(token), user_name=name,
                                                 csrf_token=csrf, created_at=at, expires_at=at + lifetime))
    user = get_user(where, name)
    if user is None:
        raise NotFoundError(f"no user named {name!r}")
    return token, Session(user, csrf, at + lifetime)


def get_session(where, token: str | None, now: datetime | None = None) -> Session | None:
    """The live session of a cookie's token: None when unknown, expired, or the user is disabled."""
    engine, mine, _org = _scope(where)
    if not token or len(token) > 200:
        return None
    digest = token_sha256(token)
    with engine.connect() as conn:
        row = conn.execute(select(web_sessions, users.c.role, users.c.created_at.label("user_created_at"),
                                  users.c.disabled_at)
                           .join(users, users.c.name == web_sessions.c.user_name)
                           .where(web_sessions.c.token_sha256 == digest, mine)).first()
    if row is None:
        return None
    expires = row.expires_at
    if expires <= _now(now) or row.disabled_at is not None:
        end_session(where, token)
        return None
    user = User(row.user_name, row.role, row.user_created_at, None)
    return Session(user, row.csrf_token, expires)


def end_session(where, token: str | None) -> None:
    engine, _mine, _org = _scope(where)
    if token:
        with engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.token_sha256 == token_sha256(token)))

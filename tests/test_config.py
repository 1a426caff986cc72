from __future__ import annotations

from pathlib import Path

import pytest

from osint.config import Secret, load_settings
from osint.errors import ConfigError


def test_defaults_follow_osint_home(tmp_path: Path) -> None:
    s = load_settings(environ={"OSINT_HOME": str(tmp_path)})
    assert s.home == tmp_path
    assert s.db == f"sqlite:///{tmp_path / 'osint.db'}"
    assert s.x_api_url == "https://api.x.com"


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('db = "sqlite:///from-file.db"\noperator = "file-op"\n')
    env = {"OSINT_HOME": str(tmp_path), "OSINT_DB": "sqlite:///from-env.db"}
    assert load_settings(environ=env).db == "sqlite:///from-env.db"
    assert load_settings(environ=env).operator == "file-op"
    assert load_settings(environ=env, db="sqlite:///flag.db").db == "sqlite:///flag.db"
    del env["OSINT_DB"]
    assert load_settings(environ=env).db == "sqlite:///from-file.db"


def test_token_is_a_secret_that_never_prints(tmp_path: Path) -> None:
    token = "AAAA-very-secret-token"
    s = load_settings(environ={"OSINT_HOME": str(tmp_path), "OSINT_X_BEARER_TOKEN": token})
    assert isinstance(s.x_bearer_token, Secret)
    assert s.x_bearer_token.reveal() == token
    assert token not in repr(s) and token not in str(s)


def test_malformed_db_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        load_settings(environ={"OSINT_HOME": str(tmp_path), "OSINT_DB": "not a url"})


def test_unsupported_backend(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unsupported database"):
        load_settings(environ={"OSINT_HOME": str(tmp_path), "OSINT_DB": "oracle://x@y/z"})


def test_unknown_config_key(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('colour = "blue"\n')
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(environ={"OSINT_HOME": str(tmp_path)})


def test_broken_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("db = \n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(environ={"OSINT_HOME": str(tmp_path)})


def test_postgresql_url_uses_psycopg(tmp_path: Path) -> None:
    s = load_settings(environ={"OSINT_HOME": str(tmp_path)}, db="postgresql://u@h/d")
    assert s.db_url.drivername == "postgresql+psycopg"

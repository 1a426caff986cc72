"""Meta-tests over every registered collector: naming, settings, targets, CLI, replay."""

from __future__ import annotations

import dataclasses
import re

import pytest

from osint.cli import cli
from osint.collectors.base import Collector
from osint.collectors.http import PLATFORM_URL_SETTINGS
from osint.collectors.registry import COLLECTORS, get_collector
from osint.config import Settings
from osint.demo.replay import PLATFORM_APPS
from osint.errors import InputError

SETTINGS = {f.name: f for f in dataclasses.fields(Settings)}


def test_platform_names_are_unique_and_lower_case() -> None:
    names = [c.platform for c in COLLECTORS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)


@pytest.mark.parametrize("collector", COLLECTORS, ids=lambda c: c.platform)
def test_collector_is_complete(collector: type[Collector]) -> None:
    assert issubclass(collector, Collector) and collector.title
    assert get_collector(collector.platform) is collector
    base = SETTINGS[collector.base_url_setting]  # its base URL is a setting tests can redirect
    assert collector.base_url_setting in PLATFORM_URL_SETTINGS  # its network is the allowed one
    if collector.base_url_from_target:  # Mastodon: the instance of USER@INSTANCE, unless set
        assert base.default is None
    else:
        assert isinstance(base.default, str) and base.default.startswith("https://")
    if collector.token_setting is not None:
        assert collector.token_setting in SETTINGS
        assert collector.token_env == f"OSINT_{collector.token_setting.upper()}"
    assert collector.normalize_target(collector.example_target) == collector.example_target.lower()
    assert collector.normalize_target("@" + collector.example_target.upper())
    with pytest.raises(InputError):
        collector.normalize_target("two words")


@pytest.mark.parametrize("collector", COLLECTORS, ids=lambda c: c.platform)
def test_collector_has_a_command_and_a_replay_app(collector: type[Collector]) -> None:
    command = cli.commands["collect"].commands[collector.platform]  # type: ignore[attr-defined]
    params = {p.name for p in command.params}
    assert {"case_name", "since", "until", "limit", "full"} <= params
    apps = {app.name: app for app in PLATFORM_APPS}
    assert apps[collector.platform].setting == collector.base_url_setting


def test_unknown_platform() -> None:
    with pytest.raises(InputError, match="cannot collect from 'myspace'"):
        get_collector("myspace")

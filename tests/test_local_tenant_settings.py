"""Settings of the local tenant from flags and environment variables."""

from __future__ import annotations

import argparse

import pytest

from qlik_tutorial.errors import ConfigurationError
from qlik_tutorial.local_tenant.settings import (
    OPTIONS,
    Settings,
    add_settings_arguments,
    settings_from,
    settings_to_args,
)


def parse(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    return parser.parse_args(list(flags))


def test_settings_defaults() -> None:
    settings = settings_from(parse(), {})
    assert settings == Settings()


def test_settings_from_environment() -> None:
    environ = {
        "QLIK_LOCAL_TENANT_CLOCK_OFFSET": "-30",
        "QLIK_LOCAL_TENANT_RATE_LIMIT": "500",
        "QLIK_LOCAL_TENANT_TOKEN_LIFETIME": "5",
    }
    settings = settings_from(parse(), environ)
    assert settings.clock_offset == -30
    assert settings.rate_limit == 500
    assert settings.token_lifetime == 5


def test_flag_wins_over_environment() -> None:
    settings = settings_from(
        parse("--rate-window", "2"), {"QLIK_LOCAL_TENANT_RATE_WINDOW": "9"}
    )
    assert settings.rate_window == 2


def test_every_option_has_env_name() -> None:
    names = {option.env for option in OPTIONS}
    assert names == {
        "QLIK_LOCAL_TENANT_CLOCK_OFFSET",
        "QLIK_LOCAL_TENANT_LEEWAY",
        "QLIK_LOCAL_TENANT_RATE_LIMIT",
        "QLIK_LOCAL_TENANT_RATE_WINDOW",
        "QLIK_LOCAL_TENANT_TOKEN_LIFETIME",
        "QLIK_LOCAL_TENANT_JTI_MEMORY",
        "QLIK_LOCAL_TENANT_IDLE_TIMEOUT",
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QLIK_LOCAL_TENANT_RATE_LIMIT", "0"),
        ("QLIK_LOCAL_TENANT_RATE_LIMIT", "1.5"),
        ("QLIK_LOCAL_TENANT_LEEWAY", "-1"),
        ("QLIK_LOCAL_TENANT_CLOCK_OFFSET", "nan"),
        ("QLIK_LOCAL_TENANT_TOKEN_LIFETIME", "soon"),
    ],
)
def test_bad_environment_value_rejected(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        settings_from(parse(), {name: value})


def test_settings_round_trip_as_flags() -> None:
    settings = Settings(clock_offset=12.5, rate_limit=7, token_lifetime=3)
    assert settings_from(parse(*settings_to_args(settings)), {}) == settings


def test_now_adds_offset() -> None:
    settings = Settings(clock_offset=100, clock=lambda: 1000.0)
    assert settings.now() == 1100.0

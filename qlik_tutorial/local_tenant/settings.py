"""Settings of a local tenant, read from command-line flags and the environment.

The defaults follow Qlik Cloud where it documents a value (100 token requests
a minute per client, assertions valid at most 300 s). The test settings let a
test see expiry, clock skew and rate limits in seconds without sleeping:

=========================  ==========================================  =========
flag                       environment variable                        default
=========================  ==========================================  =========
``--clock-offset S``       ``QLIK_LOCAL_TENANT_CLOCK_OFFSET``          0
``--leeway S``             ``QLIK_LOCAL_TENANT_LEEWAY``                60
``--rate-limit N``         ``QLIK_LOCAL_TENANT_RATE_LIMIT``            100
``--rate-window S``        ``QLIK_LOCAL_TENANT_RATE_WINDOW``           60
``--token-lifetime S``     ``QLIK_LOCAL_TENANT_TOKEN_LIFETIME``        the client's
``--jti-memory S``         ``QLIK_LOCAL_TENANT_JTI_MEMORY``            360
``--idle-timeout S``       ``QLIK_LOCAL_TENANT_IDLE_TIMEOUT``          7200 (start)
=========================  ==========================================  =========

A flag wins over its environment variable. All values are seconds except the
rate limit, which counts token requests.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import ConfigurationError

ENV_PREFIX = "QLIK_LOCAL_TENANT_"

# A background local tenant exits after this many seconds without a request.
DEFAULT_IDLE_TIMEOUT = 7200.0


@dataclass
class Settings:
    """Clock, limits and lifetimes of one local tenant.

    ``clock`` is the time source in Unix seconds (injectable in tests) and
    ``clock_offset`` is added to it, so `now` can run ahead of or behind the
    client's clock. ``token_lifetime`` (seconds) replaces every client's
    access-token lifetime when set. A used ``jti`` is remembered until its
    assertion's ``exp`` plus ``leeway``, and at least ``jti_memory`` seconds
    after use. ``idle_timeout`` ends a local tenant after that many seconds
    without a request (0 means never, None means the mode's default).
    """

    clock_offset: float = 0.0
    leeway: float = 60.0
    rate_limit: int = 100
    rate_window: float = 60.0
    token_lifetime: int | None = None
    jti_memory: float = 360.0
    idle_timeout: float | None = None
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def now(self) -> float:
        """Return the local tenant's time: ``clock()`` plus ``clock_offset``."""
        return self.clock() + self.clock_offset

    def public_view(self) -> dict[str, float | int | None]:
        """Return the settings as JSON members (camelCase), without the clock."""
        return {
            "clockOffset": self.clock_offset,
            "leeway": self.leeway,
            "rateLimit": self.rate_limit,
            "rateWindow": self.rate_window,
            "tokenLifetime": self.token_lifetime,
            "jtiMemory": self.jti_memory,
            "idleTimeout": self.idle_timeout,
        }


@dataclass(frozen=True)
class Option:
    """One setting: its field, flag, JSON member, bounds and help text."""

    field: str
    flag: str
    member: str
    kind: type
    minimum: float | None
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.field.upper()


OPTIONS = (
    Option(
        "clock_offset",
        "--clock-offset",
        "clockOffset",
        float,
        None,
        "seconds added to the system clock (negative: behind)",
    ),
    Option(
        "leeway",
        "--leeway",
        "leeway",
        float,
        0,
        "clock leeway in seconds for exp, iat and nbf (default 60)",
    ),
    Option(
        "rate_limit",
        "--rate-limit",
        "rateLimit",
        int,
        1,
        "token requests allowed per client per window (default 100)",
    ),
    Option(
        "rate_window",
        "--rate-window",
        "rateWindow",
        float,
        0.001,
        "length of the rate-limit window in seconds (default 60)",
    ),
    Option(
        "token_lifetime",
        "--token-lifetime",
        "tokenLifetime",
        int,
        1,
        "access-token lifetime in seconds for every client "
        "(default: the client's, 360 minutes unless set)",
    ),
    Option(
        "jti_memory",
        "--jti-memory",
        "jtiMemory",
        float,
        0,
        "minimum seconds a used jti is remembered (default 360)",
    ),
    Option(
        "idle_timeout",
        "--idle-timeout",
        "idleTimeout",
        float,
        0,
        "exit after this many seconds without a request, 0 for never "
        "(default 7200 in the background, never for serve)",
    ),
)

OPTIONS_BY_MEMBER = {option.member: option for option in OPTIONS}


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per setting; unset flags fall back to the environment."""
    group = parser.add_argument_group(
        "test settings", f"each flag also reads {ENV_PREFIX}<NAME> from the environment"
    )
    for option in OPTIONS:
        group.add_argument(
            option.flag,
            dest=option.field,
            metavar="N" if option.field == "rate_limit" else "SECONDS",
            default=None,
            help=option.help,
        )


def convert(option: Option, raw: object, source: str) -> float | int:
    """Convert ``raw`` (text or JSON number) to the option's type and check bounds.

    ``source`` names where the value came from (a flag, variable or member)
    so the error names what to change.
    """
    try:
        if isinstance(raw, bool):
            raise ValueError("a boolean is not a number")
        if option.kind is int:
            number: float | int = int(str(raw).strip())
        else:
            number = float(str(raw).strip())
            if not math.isfinite(number):
                raise ValueError("not a finite number")
    except ValueError:
        kind = "a whole number" if option.kind is int else "a number of seconds"
        raise ConfigurationError(
            "Invalid local tenant setting",
            value=f"{source}={raw}",
            cause=f"{option.flag} takes {kind}",
            fix=f"set {source} to {kind}, for example {option.flag} 5",
        ) from None
    if option.minimum is not None and number < option.minimum:
        raise ConfigurationError(
            "Local tenant setting out of range",
            value=f"{source}={raw}",
            cause=f"{option.flag} must be at least {option.minimum}",
            fix=f"set {source} to {option.minimum} or more",
        )
    return number


def settings_from(
    args: argparse.Namespace | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build `Settings` from parsed flags, then environment variables, then defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, float | int] = {}
    for option in OPTIONS:
        flag_value = getattr(args, option.field, None) if args is not None else None
        if flag_value is not None:
            values[option.field] = convert(option, flag_value, option.flag)
            continue
        env_value = environ.get(option.env, "").strip()
        if env_value:
            values[option.field] = convert(option, env_value, option.env)
    return dataclasses.replace(Settings(), **values)  # type: ignore[arg-type]


def settings_to_args(settings: Settings) -> list[str]:
    """Return the flags that recreate ``settings`` in another process."""
    args: list[str] = []
    for option in OPTIONS:
        value = getattr(settings, option.field)
        if value is not None:
            args += [option.flag, str(value)]
    return args

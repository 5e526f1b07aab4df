"""The conda environment pins the same versions as constraints.txt."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _normalized(name: str) -> str:
    """Return the PEP 503 form of a package name, which conda and pip share."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if match:
            pins[_normalized(match.group(1))] = match.group(2)
    return pins


def _conda_pins() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for entry in environment["dependencies"]:
        if isinstance(entry, str) and "=" in entry:
            name, version = entry.split("=", 1)
            pins[_normalized(name)] = version
    return pins


def test_conda_pins_match_constraints() -> None:
    constraints = _constraints()
    conda = _conda_pins()
    conda.pop("python")
    mismatched = {
        name: (version, constraints.get(name))
        for name, version in conda.items()
        if constraints.get(name) != version
    }
    assert mismatched == {}


def test_conda_lists_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {
        _normalized(re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0])
        for requirement in project["dependencies"]
    }
    missing = names - set(_conda_pins())
    assert missing == set()

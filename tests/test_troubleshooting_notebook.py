"""The troubleshooting notebook: committed clean, and run headless for two algs.

Each run executes ``06_troubleshooting.ipynb`` alone in a fresh workspace
against the local tenant, as a learner who skipped the earlier steps would.
For every case it checks the error that the failing cell raised, the check
that the diagnosis named and the token that the fix got.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
import requests
from nbformat.v4 import new_code_cell, new_notebook
from notebook_helpers import CELL_TIMEOUT, ENVIRONMENT, EXPECTED_PARAMETERS
from papermill.exceptions import PapermillExecutionError

from qlik_tutorial import local_tenant
from qlik_tutorial.keys import SigningKey
from qlik_tutorial.local_tenant.registration import admin_request
from qlik_tutorial.notebook import METADATA_KEY
from qlik_tutorial.run_notebooks import (
    execute_notebook,
    step_summary,
    supports_tenant,
)
from qlik_tutorial.token_endpoint import fetch_access_token
from qlik_tutorial.workspace import Workspace

pytestmark = pytest.mark.notebook

NOTEBOOK = (
    Path(__file__).resolve().parent.parent / "notebooks" / "06_troubleshooting.ipynb"
)

# One row per case, in notebook order: the exception its failing cell
# raises, words of that error, and the check its diagnosis names.
CASES = [
    ("TokenRequestError", "Signature validation failed", "key_matches_registered"),
    ("TokenRequestError", "Signature validation failed", "alg_matches_registered"),
    ("TokenRequestError", "Invalid audience", "aud_trailing_slash"),
    ("TokenRequestError", "Invalid client", "iss_client_id"),
    ("TokenRequestError", "unsupported_client_assertion_type", "assertion_type"),
    ("TenantTimeoutError", "timed out", "timeout"),
    ("TokenRequestError", "Client assertion expired", "expired"),
    ("TokenRequestError", "lifetime too long", "lifetime_too_long"),
    ("TokenRequestError", "already used", "jti_reused"),
    ("TokenRequestError", "has no kid", "kid_present"),
]
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{20,}")


def _committed() -> Any:
    return nbformat.read(NOTEBOOK, as_version=4)


def _tags(cell: Any) -> list[str]:
    tags: list[str] = cell.get("metadata", {}).get("tags", [])
    return tags


def _text(cell: Any) -> str:
    """Return everything a code cell showed: streams, values and errors."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif output.get("output_type") == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}")
        else:
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "".join(parts)


# --- the committed notebook ------------------------------------------------------


def test_committed_without_outputs() -> None:
    code = [cell for cell in _committed().cells if cell.cell_type == "code"]
    assert [cell for cell in code if cell.outputs] == []


def test_committed_without_execution_counts() -> None:
    code = [cell for cell in _committed().cells if cell.cell_type == "code"]
    assert {cell.execution_count for cell in code} == {None}


def test_one_parameters_cell() -> None:
    cells = [cell for cell in _committed().cells if "parameters" in _tags(cell)]
    assert len(cells) == 1


def test_inspect_reports_parameters() -> None:
    found = papermill.inspect_notebook(str(NOTEBOOK))
    assert {name: value["default"] for name, value in found.items()} == (
        EXPECTED_PARAMETERS
    )


def test_local_tenant_only() -> None:
    assert _committed().metadata[METADATA_KEY] == {"tenants": ["local"]}


def test_skipped_for_real_tenant() -> None:
    assert not supports_tenant(NOTEBOOK, local=False)


def test_kernelspec_python3() -> None:
    assert _committed().metadata["kernelspec"]["name"] == "python3"


def test_one_failing_cell_per_case() -> None:
    failing = [cell for cell in _committed().cells if "raises-exception" in _tags(cell)]
    assert len(failing) == len(CASES)


def test_one_h1_step_6() -> None:
    headings = [
        line
        for cell in _committed().cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("# ")
    ]
    assert [heading.split(":")[0] for heading in headings] == ["# Step 6"]


def test_intro_names_headless_command() -> None:
    intro = _committed().cells[0].source
    assert "`python -m qlik_tutorial.run_notebooks --only 06_troubleshooting`" in intro


def test_ends_saying_how_to_stop() -> None:
    cells = _committed().cells
    assert cells[-2].source.startswith("## When you are done")
    assert cells[-1].source == "nb.show_stop_command(ws)"


def test_code_cells_short() -> None:
    code = [cell for cell in _committed().cells if cell.cell_type == "code"]
    assert max(len(cell.source.splitlines()) for cell in code) <= 6


# --- raises-exception cells under papermill ---------------------------------------


def _tiny_notebook(path: Path, *, tagged: bool) -> Path:
    failing = new_code_cell("raise ValueError('on purpose')")
    if tagged:
        failing.metadata["tags"] = ["raises-exception"]
    notebook = new_notebook(cells=[failing, new_code_cell("print('after')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)
    return path


def test_tagged_failure_passes(tmp_path: Path) -> None:
    source = _tiny_notebook(tmp_path / "tagged.ipynb", tagged=True)
    executed = execute_notebook(source, tmp_path / "out.ipynb", {}, cell_timeout=30)
    assert _text(executed.cells[-1]) == "after\n"


def test_tagged_failure_kept(tmp_path: Path) -> None:
    source = _tiny_notebook(tmp_path / "tagged.ipynb", tagged=True)
    execute_notebook(source, tmp_path / "out.ipynb", {}, cell_timeout=30)
    written = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert [_text(cell) for cell in written.cells] == [
        "ValueError: on purpose",
        "after\n",
    ]


def test_untagged_failure_raises(tmp_path: Path) -> None:
    source = _tiny_notebook(tmp_path / "untagged.ipynb", tagged=False)
    with pytest.raises(PapermillExecutionError):
        execute_notebook(source, tmp_path / "out.ipynb", {}, cell_timeout=30)


# --- headless runs -------------------------------------------------------------


@dataclass
class Run:
    """One headless run and what it left behind."""

    alg: str
    workspace: Workspace
    executed: Any = None
    seconds: float = 0.0
    live_strings: list[str] = field(default_factory=list)
    control_token_live: bool = False
    clock_offset: Any = None
    secrets: list[str] = field(default_factory=list)
    tenant_status_after: Any = "not checked"


def _live_tokens(tenant: str, text: str) -> list[str]:
    """Return the strings in ``text`` that the tenant accepts as access tokens."""
    live = []
    for candidate in sorted(set(TOKEN_LIKE.findall(text))):
        answer = requests.get(
            f"{tenant}/api/v1/users/me",
            headers={"Authorization": f"Bearer {candidate}"},
            allow_redirects=False,
            timeout=10,
        )
        if answer.status_code != 401:
            live.append(candidate)
    return live


def _record(run: Run) -> None:
    """Record, while the local tenant still runs, what must not leak."""
    space = run.workspace
    config = space.load_client()
    assert config is not None
    text = json.dumps(run.executed)
    run.live_strings = _live_tokens(config.tenant, text)
    key = SigningKey.load(space.private_key, alg=config.alg)
    token = fetch_access_token(key, config.client_id, config.tenant)
    run.control_token_live = _live_tokens(config.tenant, token.access_token) == [
        token.access_token
    ]
    admin_key = local_tenant.admin_key(space.root)
    _, settings = admin_request(
        config.tenant, admin_key, "GET", "/api/v1/local-tenant/settings"
    )
    run.clock_offset = settings["clockOffset"]
    pem = space.private_key.read_text()
    run.secrets += [line for line in pem.splitlines() if "-----" not in line]
    run.secrets.append(admin_key)


@pytest.fixture(scope="module", params=["RS256", "ES384"])
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Run]:
    alg = request.param
    base = tmp_path_factory.mktemp(f"troubleshooting-{alg}")
    result = Run(alg=alg, workspace=Workspace(base / "workspace"))
    parameters = {
        "workspace": str(result.workspace.root),
        "alg": alg,
        "interactive": False,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in ENVIRONMENT:
            patch.delenv(name, raising=False)
        try:
            started = time.perf_counter()
            result.executed = execute_notebook(
                NOTEBOOK, base / "executed.ipynb", parameters, cell_timeout=CELL_TIMEOUT
            )
            result.seconds = time.perf_counter() - started
            _record(result)
        finally:
            local_tenant.stop_local_tenant(result.workspace.root)
    result.tenant_status_after = local_tenant.local_tenant_status(result.workspace.root)
    yield result


def _code_cells(run: Run) -> list[Any]:
    return [cell for cell in run.executed.cells if cell.cell_type == "code"]


def _failing_cells(run: Run) -> list[int]:
    cells = _code_cells(run)
    return [i for i, cell in enumerate(cells) if "raises-exception" in _tags(cell)]


def _errors(cell: Any) -> list[Any]:
    return [out for out in cell.get("outputs", []) if out.output_type == "error"]


def test_run_each_case_raises(run: Run) -> None:
    cells = _code_cells(run)
    names = [[error.ename for error in _errors(cells[i])] for i in _failing_cells(run)]
    assert names == [[ename] for ename, _, _ in CASES]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_run_error_names_fault(run: Run, case: int) -> None:
    cell = _code_cells(run)[_failing_cells(run)[case]]
    assert CASES[case][1] in _text(cell)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_run_error_names_fix(run: Run, case: int) -> None:
    cell = _code_cells(run)[_failing_cells(run)[case]]
    assert ". Fix: " in _text(cell)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_run_diagnosis_names_check(run: Run, case: int) -> None:
    diagnosis = _code_cells(run)[_failing_cells(run)[case] + 1]
    assert f"[{CASES[case][2]}]" in _text(diagnosis)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_run_error_shown_briefly(run: Run, case: int) -> None:
    cell = _code_cells(run)[_failing_cells(run)[case]]
    lines = [line for error in _errors(cell) for line in error.traceback]
    assert lines[0].startswith(f"{CASES[case][0]}: ")
    assert [line for line in lines if line.startswith("  fix:")] != []


@pytest.mark.parametrize("case", range(len(CASES)))
def test_run_fix_gets_token(run: Run, case: int) -> None:
    cells = _code_cells(run)[_failing_cells(run)[case] + 2 :]
    fix = next(cell for cell in cells if cell.outputs)
    assert "Token issued: Bearer" in _text(fix)


def test_run_only_failing_cells_err(run: Run) -> None:
    failing = set(_failing_cells(run))
    others = [
        i
        for i, cell in enumerate(_code_cells(run))
        if _errors(cell) and i not in failing
    ]
    assert others == []


def test_run_doctor_finds_nothing(run: Run) -> None:
    cell = next(cell for cell in _code_cells(run) if "doctor([" in cell.source)
    assert "No problem found." in _text(cell)


def test_run_summary(run: Run) -> None:
    assert step_summary(run.executed) == "10 faults reproduced, diagnosed and fixed"


def test_run_stop_command_shown(run: Run) -> None:
    text = _text(_code_cells(run)[-1])
    assert f"local-tenant stop --workspace {run.workspace.root}\n" in text


def test_run_clock_restored(run: Run) -> None:
    assert run.clock_offset == 0


def test_run_alg(run: Run) -> None:
    config = run.workspace.load_client()
    assert config is not None
    assert config.alg == run.alg


def test_run_shows_no_private_key(
    run: Run, assert_no_key_material: Callable[[str, object], None]
) -> None:
    key = SigningKey.load(run.workspace.private_key)
    assert_no_key_material(json.dumps(run.executed), key.private_key)


def test_run_shows_no_secret_lines(run: Run) -> None:
    text = json.dumps(run.executed)
    assert [secret for secret in run.secrets if secret in text] == []


def test_run_shows_no_assertion(run: Run) -> None:
    assert JWT.findall(json.dumps(run.executed)) == []


def test_run_shows_no_access_token(run: Run) -> None:
    assert run.live_strings == []


def test_live_token_check_works(run: Run) -> None:
    assert run.control_token_live


def test_run_tenant_stopped(run: Run) -> None:
    assert run.tenant_status_after is None


def test_run_fast(run: Run) -> None:
    assert run.seconds < 60, f"{run.alg} run took {run.seconds:.1f} s"

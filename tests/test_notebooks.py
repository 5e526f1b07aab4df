"""The step notebooks: committed clean, and run end to end with papermill.

Each chain executes 01 to 05 in order in a fresh workspace against the local
tenant and records what every step left behind. RS256 runs with widgets
(``interactive=True``), RS512 with an expired assertion put in place before
step 04, and ES384 through `run_steps`, the driver of ``make run``.
"""

from __future__ import annotations

import ast
import asyncio
import html
import json
import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
import requests
from notebook_helpers import CELL_TIMEOUT, ENVIRONMENT, EXPECTED_PARAMETERS
from papermill.exceptions import PapermillExecutionError

from qlik_tutorial import local_tenant, run_notebooks
from qlik_tutorial.assertion import build_client_assertion, decode_assertion
from qlik_tutorial.keys import SigningKey
from qlik_tutorial.local_tenant.process import _pid_alive
from qlik_tutorial.notebook import METADATA_KEY, PARAMETERS, SUMMARY_MIMETYPE
from qlik_tutorial.notebook_display import CHECKLIST
from qlik_tutorial.run_notebooks import (
    SCRATCH_MARKER,
    StepFailedError,
    _kernel_manager_class,
    execute_notebook,
    run_steps,
    step_notebooks,
    step_summary,
    supports_tenant,
)
from qlik_tutorial.tenant import token_endpoint
from qlik_tutorial.workspace import ClientConfig, Workspace

pytestmark = pytest.mark.notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
STEPS = (
    "01_generate_keys",
    "02_register_client",
    "03_sign_assertion",
    "04_exchange_token",
    "05_call_api",
)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _notebook(name: str) -> Any:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def _code_cells(notebook: Any) -> list[Any]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


# --- the committed notebooks ---------------------------------------------------------


def test_step_notebooks_in_order() -> None:
    names = [path.stem for path in step_notebooks(NOTEBOOKS)]
    assert names[: len(STEPS)] == list(STEPS)


@pytest.mark.parametrize("name", STEPS)
def test_committed_without_outputs(name: str) -> None:
    cells = _code_cells(_notebook(name))
    assert [cell.outputs for cell in cells if cell.outputs] == []


@pytest.mark.parametrize("name", STEPS)
def test_committed_without_execution_counts(name: str) -> None:
    cells = _code_cells(_notebook(name))
    assert [cell.execution_count for cell in cells] == [None] * len(cells)


@pytest.mark.parametrize("name", STEPS)
def test_committed_kernelspec_python3(name: str) -> None:
    assert _notebook(name).metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("name", STEPS)
def test_one_parameters_cell(name: str) -> None:
    tagged = [
        cell
        for cell in _notebook(name).cells
        if "parameters" in cell.metadata.get("tags", [])
    ]
    assert len(tagged) == 1


@pytest.mark.parametrize("name", STEPS)
def test_parameters_plain_values(name: str) -> None:
    cell = next(
        cell
        for cell in _notebook(name).cells
        if "parameters" in cell.metadata.get("tags", [])
    )
    statements = ast.parse(cell.source).body
    values = {}
    for statement in statements:
        assert isinstance(statement, ast.Assign)
        assert isinstance(statement.value, ast.Constant)
        values[statement.targets[0].id] = statement.value.value  # type: ignore[attr-defined]
    assert values == {name: None for name in PARAMETERS[:-1]} | {"interactive": True}


@pytest.mark.parametrize("name", STEPS)
def test_inspect_reports_parameters(name: str) -> None:
    found = papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))
    defaults = {key: value["default"] for key, value in found.items()}
    assert defaults == EXPECTED_PARAMETERS


@pytest.mark.parametrize(("number", "name"), list(enumerate(STEPS, 1)))
def test_one_h1_with_step_number(number: int, name: str) -> None:
    headings = [
        line
        for cell in _notebook(name).cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("# ")
    ]
    assert len(headings) == 1
    assert headings[0].startswith(f"# Step {number}:")


@pytest.mark.parametrize("name", STEPS)
def test_ends_with_summary_and_next(name: str) -> None:
    markdown = "\n".join(
        cell.source for cell in _notebook(name).cells if cell.cell_type == "markdown"
    )
    assert "## What you have now" in markdown
    assert "## Next step" in markdown


def test_last_step_says_how_to_stop() -> None:
    notebook = _notebook(STEPS[-1])
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    code = [cell.source for cell in _code_cells(notebook)]
    assert "## When you are done" in "\n".join(markdown)
    assert "nb.show_stop_command(ws)" in code


@pytest.mark.parametrize("name", STEPS)
def test_code_cells_short(name: str) -> None:
    lengths = [len(cell.source.splitlines()) for cell in _code_cells(_notebook(name))]
    assert max(lengths) <= 6


@pytest.mark.parametrize("name", STEPS)
def test_runs_on_every_tenant(name: str) -> None:
    path = NOTEBOOKS / f"{name}.ipynb"
    assert supports_tenant(path, local=False)


def test_local_only_metadata(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata[METADATA_KEY] = {"tenants": ["local"]}
    path = tmp_path / "06_local.ipynb"
    nbformat.write(notebook, path)
    assert supports_tenant(path, local=True)
    assert not supports_tenant(path, local=False)


# --- chains against the local tenant ------------------------------------------------


@dataclass
class Chain:
    """What one run of 01 to 05 left behind, recorded after each step."""

    alg: str
    workspace: Workspace
    executed: dict[str, Any] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    client: ClientConfig | None = None
    admin_view: dict[str, Any] = field(default_factory=dict)
    assertions: list[str] = field(default_factory=list)
    token: dict[str, Any] = field(default_factory=dict)
    summaries: dict[str, str | None] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    tenant_status_after: Any = "not checked"


def _record(chain: Chain, step: str) -> None:
    """Record what ``step`` left in the workspace, while the tenant still runs."""
    space = chain.workspace
    if step == "01_generate_keys":
        for path in (space.private_key, space.public_key, space.public_jwk):
            chain.modes[path.name] = stat.S_IMODE(path.stat().st_mode)
        pem = space.private_key.read_text()
        chain.secrets += [line for line in pem.splitlines() if "-----" not in line]
    elif step == "02_register_client":
        chain.client = space.load_client()
        assert chain.client is not None
        answer = requests.get(
            f"{chain.client.tenant}/api/v1/oauth-clients/{chain.client.client_id}",
            headers={"Authorization": f"Bearer {local_tenant.admin_key(space.root)}"},
            timeout=10,
        )
        chain.admin_view = answer.json()
        chain.secrets.append(local_tenant.admin_key(space.root))
    elif step == "03_sign_assertion":
        chain.modes["assertion.jwt"] = stat.S_IMODE(space.assertion.stat().st_mode)
        chain.assertions.append(space.load_assertion() or "")
    elif step == "04_exchange_token":
        chain.modes["token.json"] = stat.S_IMODE(space.token_json.stat().st_mode)
        chain.token = json.loads(space.token_json.read_text())
        chain.assertions.append(space.load_assertion() or "")
        chain.secrets.append(chain.token["access_token"])


def _expire_assertion(space: Workspace) -> None:
    """Replace step 03's assertion with one that expired 5 minutes ago."""
    config = space.load_client()
    assert config is not None
    key = SigningKey.load(space.private_key, alg=config.alg)
    past = time.time() - 600
    expired = build_client_assertion(
        key, config.client_id, config.tenant, now=lambda: past
    )
    space.save_assertion(expired)


def _run_directly(
    chain: Chain, output: Path, *, interactive: bool, expire: bool
) -> None:
    parameters = {
        "workspace": str(chain.workspace.root),
        "alg": chain.alg,
        "interactive": interactive,
    }
    for step in STEPS:
        if step == "04_exchange_token" and expire:
            _expire_assertion(chain.workspace)
        target = output / f"{step}.ipynb"
        executed = execute_notebook(
            NOTEBOOKS / f"{step}.ipynb", target, parameters, cell_timeout=CELL_TIMEOUT
        )
        chain.executed[step] = executed
        chain.summaries[step] = step_summary(executed)
        _record(chain, step)


def _run_with_driver(chain: Chain, output: Path) -> None:
    def echo(line: str) -> None:
        chain.lines.append(line)
        step = line.split()[0]
        _record(chain, step)

    # Only steps 01 to 05: later notebooks have tests of their own.
    steps = output.parent / "notebooks"
    steps.mkdir()
    for step in STEPS:
        shutil.copy(NOTEBOOKS / f"{step}.ipynb", steps)
    run_steps(
        steps,
        chain.workspace.root,
        output,
        alg=chain.alg,
        cell_timeout=CELL_TIMEOUT,
        echo=echo,
    )
    for step in STEPS:
        executed = nbformat.read(output / f"{step}.ipynb", as_version=4)
        chain.executed[step] = executed
        chain.summaries[step] = step_summary(executed)


@pytest.fixture(scope="module", params=["RS256", "RS512", "ES384"])
def chain(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Chain]:
    alg = request.param
    base = tmp_path_factory.mktemp(f"chain-{alg}")
    chain = Chain(alg=alg, workspace=Workspace(base / "workspace"))
    output = base / "executed"
    output.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        for name in ENVIRONMENT:
            patch.delenv(name, raising=False)
        try:
            if alg == "ES384":
                _run_with_driver(chain, output)
            else:
                _run_directly(
                    chain, output, interactive=alg == "RS256", expire=alg == "RS512"
                )
        finally:
            local_tenant.stop_local_tenant(chain.workspace.root)
    chain.tenant_status_after = local_tenant.local_tenant_status(chain.workspace.root)
    yield chain


def _outputs(executed: Any) -> list[Any]:
    return [output for cell in executed.cells for output in cell.get("outputs", [])]


def _text_of(executed: Any, marker: str) -> str:
    """Return the printed text of the first code cell whose source has ``marker``."""
    cell = next(cell for cell in _code_cells(executed) if marker in cell.source)
    return "".join(
        output.get("text", "")
        for output in cell.outputs
        if output.output_type == "stream"
    )


def test_chain_private_key_mode(chain: Chain) -> None:
    assert chain.modes["private_key.pem"] == 0o600


def test_chain_public_files_readable(chain: Chain) -> None:
    assert chain.modes["public_jwk.json"] & 0o044 == 0o044


def test_chain_jwk_alg(chain: Chain) -> None:
    jwk = json.loads(chain.workspace.public_jwk.read_text())
    assert jwk["alg"] == chain.alg


def test_chain_jwk_kid_is_key(chain: Chain) -> None:
    key = SigningKey.load(chain.workspace.private_key, alg=chain.alg)
    assert json.loads(chain.workspace.public_jwk.read_text())["kid"] == key.kid


def test_chain_client_saved(chain: Chain) -> None:
    assert chain.client is not None
    assert (chain.client.alg, chain.client.tenant[:17]) == (
        chain.alg,
        "http://127.0.0.1:",
    )


def test_chain_client_registered(chain: Chain) -> None:
    assert chain.client is not None
    kids = [jwk["kid"] for jwk in chain.admin_view["publicKeys"]]
    assert kids == [chain.client.kid]


def test_chain_client_allows_private_key_jwt(chain: Chain) -> None:
    assert chain.admin_view["allowedAuthMethods"] == ["private_key_jwt"]


def test_chain_assertion_mode(chain: Chain) -> None:
    assert chain.modes["assertion.jwt"] == 0o600


def test_chain_assertion_claims(chain: Chain) -> None:
    assert chain.client is not None
    claims = decode_assertion(chain.assertions[0]).claims
    assert claims["iss"] == claims["sub"] == chain.client.client_id
    assert claims["aud"] == token_endpoint(chain.client.tenant)
    assert claims["exp"] - claims["iat"] == 300


def test_chain_assertion_header(chain: Chain) -> None:
    assert chain.client is not None
    header = decode_assertion(chain.assertions[0]).header
    assert (header["alg"], header["kid"]) == (chain.alg, chain.client.kid)


def test_chain_token_saved(chain: Chain) -> None:
    assert chain.modes["token.json"] == 0o600
    assert chain.token["token_type"].lower() == "bearer"
    assert chain.token["expires_at"] > time.time()


@pytest.mark.parametrize("chain", ["RS512"], indirect=True)
def test_chain_expired_assertion_replaced(chain: Chain) -> None:
    text = _text_of(chain.executed["04_exchange_token"], "assertion_for_exchange")
    assert "expired" in text
    assert chain.assertions[1] != chain.assertions[0]


@pytest.mark.parametrize("chain", ["RS256", "ES384"], indirect=True)
def test_chain_fresh_assertion_reused(chain: Chain) -> None:
    assert chain.assertions[1] == chain.assertions[0]


def test_chain_redirect_shown(chain: Chain) -> None:
    text = _text_of(chain.executed["05_call_api"], "allow_redirects=False")
    assert re.fullmatch(
        r"301 Moved Permanently\nLocation: \S*/api/v1/users/\S+\n", text
    )


def test_chain_stop_command_shown(chain: Chain) -> None:
    text = _text_of(chain.executed["05_call_api"], "show_stop_command")
    root = chain.workspace.root
    assert f".venv/bin/qlik-tutorial local-tenant stop --workspace {root}\n" in text


def test_chain_user_json(chain: Chain) -> None:
    user = json.loads(_text_of(chain.executed["05_call_api"], "nb.show_user"))
    redirect = _text_of(chain.executed["05_call_api"], "allow_redirects=False")
    assert redirect.strip().endswith(f"/api/v1/users/{user['id']}")
    assert {"id", "name", "subject", "tenantId"} <= set(user)


def test_chain_summaries(chain: Chain) -> None:
    assert chain.client is not None
    summaries = chain.summaries
    assert summaries["01_generate_keys"] == (
        f"{chain.alg} key pair, kid {chain.client.kid}"
    )
    assert chain.client.client_id in (summaries["02_register_client"] or "")
    assert "assertion expires" in (summaries["03_sign_assertion"] or "")
    assert "token valid for 360 min" in (summaries["04_exchange_token"] or "")
    assert (summaries["05_call_api"] or "").startswith("user ")


def test_chain_widgets_only_interactive(chain: Chain) -> None:
    views = [
        output
        for step in ("01_generate_keys", "02_register_client")
        for output in _outputs(chain.executed[step])
        if WIDGET_VIEW in output.get("data", {})
    ]
    assert bool(views) == (chain.alg == "RS256")


def _cell_with(executed: Any, marker: str) -> Any:
    return next(cell for cell in _code_cells(executed) if marker in cell.source)


def _widget_views(cell: Any) -> list[Any]:
    return [output for output in cell.outputs if WIDGET_VIEW in output.get("data", {})]


def _widget_models(executed: Any, model: str) -> list[dict[str, Any]]:
    """Return the saved state of every widget of one model class, e.g. "Checkbox"."""
    saved = executed.metadata.get("widgets", {})
    states = saved.get("application/vnd.jupyter.widget-state+json", {})
    return [
        entry["state"]
        for entry in states.get("state", {}).values()
        if entry["model_name"] == f"{model}Model"
    ]


@pytest.mark.parametrize("step", ["01_generate_keys", "02_register_client"])
def test_chain_jwk_json_once(chain: Chain, step: str) -> None:
    assert chain.client is not None
    text = _text_of(chain.executed[step], "nb.show_jwk")
    assert text.count(f'"kid": "{chain.client.kid}"') == 1


@pytest.mark.parametrize("step", ["01_generate_keys", "02_register_client"])
def test_chain_jwk_members_shown(chain: Chain, step: str) -> None:
    assert "member  " in _text_of(chain.executed[step], "nb.show_jwk")


@pytest.mark.parametrize("chain", ["RS256"], indirect=True)
def test_chain_jwk_copy_button_only(chain: Chain) -> None:
    executed = chain.executed["01_generate_keys"]
    assert len(_widget_models(executed, "HTML")) == 1
    assert _widget_models(executed, "Textarea") == []


def test_chain_checklist_once(chain: Chain) -> None:
    executed = chain.executed["02_register_client"]
    text = _text_of(executed, "show_checklist")
    views = _widget_views(_cell_with(executed, "show_checklist"))
    interactive = chain.alg == "RS256"
    assert bool(text) != interactive
    assert len(views) == int(interactive)


def test_chain_checklist_text_unticked(chain: Chain) -> None:
    text = _text_of(chain.executed["02_register_client"], "show_checklist")
    assert "[x]" not in text


@pytest.mark.parametrize("chain", ["RS256"], indirect=True)
def test_chain_checkboxes_unticked(chain: Chain) -> None:
    boxes = _widget_models(chain.executed["02_register_client"], "Checkbox")
    assert [box["value"] for box in boxes] == [False] * len(CHECKLIST)


@pytest.mark.parametrize("chain", ["RS256"], indirect=True)
def test_chain_checkboxes_name_fields(chain: Chain) -> None:
    labels = _widget_models(chain.executed["02_register_client"], "HTML")
    hint = html.escape('(allowedAuthMethods: ["private_key_jwt"])')
    assert any(hint in label["value"] for label in labels)


def test_chain_no_secret_in_outputs(chain: Chain) -> None:
    secrets = [*chain.secrets, *chain.assertions]
    for step, executed in chain.executed.items():
        text = nbformat.writes(executed)
        leaked = [secret[:12] for secret in secrets if secret and secret in text]
        assert leaked == [], step


def test_chain_token_shown_masked(chain: Chain) -> None:
    text = _text_of(chain.executed["04_exchange_token"], "nb.show_token")
    assert chain.token["access_token"][:10] + "…" in text


def test_chain_tenant_stopped(chain: Chain) -> None:
    assert chain.tenant_status_after is None


@pytest.mark.parametrize("chain", ["ES384"], indirect=True)
def test_driver_prints_step_lines(chain: Chain) -> None:
    assert [line.split()[0] for line in chain.lines] == list(STEPS)
    assert chain.lines[0].endswith(chain.summaries["01_generate_keys"] or "-")


@pytest.mark.parametrize("chain", ["ES384"], indirect=True)
def test_driver_marks_scratch(chain: Chain) -> None:
    assert (chain.workspace.root / SCRATCH_MARKER).exists()


# --- parameters that contradict the workspace ---------------------------------------


def _error_outputs(path: Path) -> list[Any]:
    executed = nbformat.read(path, as_version=4)
    return [output for output in _outputs(executed) if output.output_type == "error"]


def _run_failing(
    chain: Chain, step: str, output: Path, parameters: dict[str, Any]
) -> list[Any]:
    """Run ``step`` on the chain's workspace and return its error outputs.

    Every contradiction stops the step before it starts the local tenant;
    a step that went on anyway has its tenant stopped here.
    """
    target = output / f"{step}.ipynb"
    arguments = {"workspace": str(chain.workspace.root), "interactive": False}
    try:
        with pytest.raises(PapermillExecutionError):
            execute_notebook(
                NOTEBOOKS / f"{step}.ipynb",
                target,
                arguments | parameters,
                cell_timeout=CELL_TIMEOUT,
            )
    finally:
        local_tenant.stop_local_tenant(chain.workspace.root)
    return _error_outputs(target)


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("chain", ["ES384"], indirect=True)
@pytest.mark.parametrize("step", STEPS[1:])
@pytest.mark.usefixtures("bare_environment")
def test_step_refuses_other_alg(chain: Chain, step: str, tmp_path: Path) -> None:
    errors = _run_failing(chain, step, tmp_path, {"alg": "RS512"})
    assert [error.ename for error in errors] == ["AlgorithmError"]
    assert errors[0].evalue.startswith(
        "The alg parameter contradicts the workspace: 'RS512'. Cause: the key in "
    )


@pytest.mark.parametrize("chain", ["ES384"], indirect=True)
@pytest.mark.usefixtures("bare_environment")
def test_register_refuses_other_key(chain: Chain, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(SigningKey.generate("ES384").private_pem())
    other.chmod(0o600)
    step = "02_register_client"
    errors = _run_failing(chain, step, tmp_path, {"private_key": str(other)})
    assert [error.ename for error in errors] == ["WorkspaceError"]
    assert errors[0].evalue.startswith(
        "The private key from parameter contradicts the workspace"
    )


# --- the driver's failures ------------------------------------------------------------


def _write_steps(folder: Path, sources: dict[str, str]) -> Path:
    folder.mkdir()
    for name, source in sources.items():
        notebook = nbformat.v4.new_notebook()
        parameters = nbformat.v4.new_code_cell("workspace = None\ninteractive = True")
        parameters.metadata["tags"] = ["parameters"]
        notebook.cells = [parameters, nbformat.v4.new_code_cell(source)]
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "P"}
        nbformat.write(notebook, folder / f"{name}.ipynb")
    return folder


def test_driver_stops_at_failing_cell(tmp_path: Path) -> None:
    folder = _write_steps(
        tmp_path / "steps",
        {"01_fail": "raise ValueError('broken on purpose')", "02_never": "1"},
    )
    with pytest.raises(StepFailedError) as caught:
        run_steps(
            folder,
            tmp_path / "ws",
            tmp_path / "out",
            tenant="acme.eu.qlikcloud.com",
            echo=lambda line: None,
        )
    assert "01_fail failed in cell" in str(caught.value)
    assert "ValueError: broken on purpose" in str(caught.value)
    assert not (tmp_path / "out" / "02_never.ipynb").exists()


def test_driver_skips_local_only(tmp_path: Path) -> None:
    folder = _write_steps(tmp_path / "steps", {"01_any": "1", "02_local": "2"})
    notebook = nbformat.read(folder / "02_local.ipynb", as_version=4)
    notebook.metadata[METADATA_KEY] = {"tenants": ["local"]}
    nbformat.write(notebook, folder / "02_local.ipynb")
    lines: list[str] = []
    run_steps(
        folder,
        tmp_path / "ws",
        tmp_path / "out",
        tenant="acme.eu.qlikcloud.com",
        echo=lines.append,
    )
    assert "skipped" in lines[1]
    assert not (tmp_path / "out" / "02_local.ipynb").exists()


def test_driver_keeps_foreign_workspace(tmp_path: Path) -> None:
    learner = tmp_path / "workspace"
    learner.mkdir()
    (learner / "private_key.pem").write_text("kept")
    folder = _write_steps(tmp_path / "steps", {"01_any": "1"})
    with pytest.raises(Exception, match="did not create"):
        run_steps(folder, learner, tmp_path / "out", tenant="acme.eu.qlikcloud.com")
    assert (learner / "private_key.pem").read_text() == "kept"


def _only_arguments(tmp_path: Path, folder: Path, name: str) -> list[str]:
    return [
        "--only",
        name,
        "--notebooks",
        str(folder),
        "--workspace",
        str(tmp_path / "ws"),
        "--output",
        str(tmp_path / "out"),
        "--tenant",
        "acme.eu.qlikcloud.com",
    ]


def test_driver_only_one_step(tmp_path: Path) -> None:
    folder = _write_steps(
        tmp_path / "steps",
        {"01_first": "1", "02_second": "raise ValueError('on purpose')"},
    )
    notebook = nbformat.read(folder / "02_second.ipynb", as_version=4)
    notebook.cells[1].metadata["tags"] = ["raises-exception"]
    nbformat.write(notebook, folder / "02_second.ipynb")
    status = run_notebooks.main(_only_arguments(tmp_path, folder, "02_second"))
    assert status == 0
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["02_second.ipynb"]


def test_driver_only_keeps_other_copies(tmp_path: Path) -> None:
    folder = _write_steps(tmp_path / "steps", {"01_first": "1", "02_second": "2"})
    output = tmp_path / "out"
    output.mkdir()
    (output / "01_first.ipynb").write_text("kept")
    (output / "02_second.ipynb").write_text("stale")
    status = run_notebooks.main(_only_arguments(tmp_path, folder, "02_second"))
    assert status == 0
    assert (output / "01_first.ipynb").read_text() == "kept"
    assert step_summary(nbformat.read(output / "02_second.ipynb", as_version=4)) is None


def test_driver_only_removes_selected_copy(tmp_path: Path) -> None:
    folder = _write_steps(
        tmp_path / "steps",
        {"01_first": "1", "02_second": "raise ValueError('x')", "03_third": "3"},
    )
    output = tmp_path / "out"
    output.mkdir()
    for name in ("01_first", "03_third"):
        (output / f"{name}.ipynb").write_text("stale")
    with pytest.raises(StepFailedError):
        run_steps(
            folder,
            tmp_path / "ws",
            output,
            tenant="acme.eu.qlikcloud.com",
            only={"02_second", "03_third"},
            echo=lambda line: None,
        )
    assert sorted(path.name for path in output.iterdir()) == [
        "01_first.ipynb",
        "02_second.ipynb",
    ]


def test_driver_full_run_clears_stale(tmp_path: Path) -> None:
    folder = _write_steps(tmp_path / "steps", {"01_first": "1"})
    output = tmp_path / "out"
    output.mkdir()
    (output / "09_gone.ipynb").write_text("stale")
    run_steps(
        folder, tmp_path / "ws", output, tenant="acme.eu.qlikcloud.com", echo=print
    )
    assert sorted(path.name for path in output.iterdir()) == ["01_first.ipynb"]


def test_driver_alg_lowercase() -> None:
    arguments = run_notebooks._parser(ROOT).parse_args(["--alg", "es384"])
    assert arguments.alg == "ES384"


def test_driver_alg_contradicts_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = SigningKey.generate("ES384")
    monkeypatch.setenv("QLIK_PRIVATE_KEY", key.private_pem().decode())
    folder = _write_steps(tmp_path / "steps", {"01_first": "1"})
    arguments = ["--alg", "RS256", *_only_arguments(tmp_path, folder, "01_first")]
    assert run_notebooks.main(arguments) == 1
    error = capsys.readouterr().err
    assert "make run ALG=ES384" in error
    assert "leave ALG unset" in error
    assert "keygen" not in error
    assert not (tmp_path / "ws").exists()


def test_driver_only_unknown_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write_steps(tmp_path / "steps", {"01_first": "1"})
    with pytest.raises(SystemExit) as exited:
        run_notebooks.main(_only_arguments(tmp_path, folder, "07_missing"))
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "--only 07_missing" in error
    assert "01_first" in error
    assert not (tmp_path / "ws").exists()


def test_chain_summary_mimetype(chain: Chain) -> None:
    bundles = [
        output["data"][SUMMARY_MIMETYPE]
        for output in _outputs(chain.executed["01_generate_keys"])
        if SUMMARY_MIMETYPE in output.get("data", {})
    ]
    assert [bundle["alg"] for bundle in bundles] == [chain.alg]


@pytest.fixture
def stand_in_tenant(tmp_path: Path) -> Iterator[tuple[str, str, SigningKey]]:
    """A local tenant of another workspace, playing a real tenant.

    It yields the tenant URL, a registered client ID and that client's key.
    """
    root = tmp_path / "stand-in"
    root.mkdir()
    try:
        url = local_tenant.ensure_local_tenant(root)
        key = SigningKey.generate("ES384")
        client_id = local_tenant.register_client(root, key.public_jwk)
        yield url, client_id, key
    finally:
        local_tenant.stop_local_tenant(root)


def test_driver_real_tenant_from_environment(
    tmp_path: Path,
    stand_in_tenant: tuple[str, str, SigningKey],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, client_id, key = stand_in_tenant
    monkeypatch.delenv("QLIK_TUTORIAL_WORKSPACE", raising=False)
    monkeypatch.setenv("QLIK_TENANT", url)
    monkeypatch.setenv("QLIK_CLIENT_ID", client_id)
    monkeypatch.setenv("QLIK_PRIVATE_KEY", key.private_pem().decode())
    steps = tmp_path / "notebooks"
    steps.mkdir()
    for step in STEPS:
        shutil.copy(NOTEBOOKS / f"{step}.ipynb", steps)
    local_only = nbformat.v4.new_notebook()
    local_only.metadata[METADATA_KEY] = {"tenants": ["local"]}
    nbformat.write(local_only, steps / "06_local_only.ipynb")
    lines: list[str] = []

    run_steps(steps, tmp_path / "ws", tmp_path / "out", echo=lines.append)

    space = Workspace(tmp_path / "ws")
    assert space.load_client() == ClientConfig(url, client_id, "ES384", key.kid)
    assert not space.local_tenant_dir.exists()
    assert lines[-1].startswith("06_local_only")
    assert "skipped" in lines[-1]
    assert lines[4].startswith("05_call_api       ")
    assert lines[0].endswith(f"ES384 key supplied, kid {key.kid}")
    executed = nbformat.read(tmp_path / "out" / "01_generate_keys.ipynb", as_version=4)
    assert "from QLIK_PRIVATE_KEY" in _text_of(executed, "prepare_key")
    registration = nbformat.read(
        tmp_path / "out" / "02_register_client.ipynb", as_version=4
    )
    assert "[ ]  3. Click Create new" in _text_of(registration, "show_checklist")


# --- the make targets, as dry runs ---------------------------------------------------


def _make_dry_run(*arguments: str) -> str:
    completed = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={key: value for key, value in os.environ.items() if key != "ALG"},
    )
    return completed.stdout


def test_make_run_passes_alg() -> None:
    assert "run_notebooks --alg ES384" in _make_dry_run("run", "ALG=ES384")


def test_make_run_leaves_alg_unset() -> None:
    assert "--alg" not in _make_dry_run("run")


def test_make_run_uses_scratch_workspace() -> None:
    assert f'--workspace "{ROOT}/build/run-workspace"' in _make_dry_run("run")


def test_make_lab_binds_loopback() -> None:
    commands = _make_dry_run("lab")
    assert "--ServerApp.ip=127.0.0.1" in commands
    assert "/lab/tree/notebooks/01_generate_keys.ipynb" in commands


def test_make_clean_keeps_workspace() -> None:
    removals = [line for line in _make_dry_run("clean").splitlines() if "rm " in line]
    assert removals == ["rm -rf build"]


# --- make clean, run for real in a temporary folder ----------------------------------


def _make_clean(folder: Path, workspace: Path) -> str:
    """Run ``make clean`` with ``folder`` as the kit's root; return its output."""
    environment = {k: v for k, v in os.environ.items() if k != "ALG"}
    environment["QLIK_TUTORIAL_WORKSPACE"] = str(workspace)
    completed = subprocess.run(
        ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "clean"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=environment,
    )
    return completed.stdout


@pytest.fixture
def kit_folder(tmp_path: Path) -> Iterator[Path]:
    """A kit root with a key in ``mine/``; its local tenants are stopped after."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "private_key.pem").write_text("kept")
    try:
        yield tmp_path
    finally:
        for root in (tmp_path / "mine", tmp_path / "build" / "run-workspace"):
            local_tenant.stop_local_tenant(root)


def test_make_clean_without_venv(kit_folder: Path) -> None:
    scratch = kit_folder / "build" / "run-workspace"
    scratch.mkdir(parents=True)
    pids = [
        local_tenant.start_local_tenant(root).pid
        for root in (scratch, kit_folder / "mine")
    ]
    output = _make_clean(kit_folder, kit_folder / "mine")
    assert [pid for pid in pids if _pid_alive(pid)] == []
    assert output.count("Stopping the local tenant") == 2
    assert not (kit_folder / "build").exists()
    assert (kit_folder / "mine" / "private_key.pem").read_text() == "kept"


def test_make_clean_with_venv(kit_folder: Path) -> None:
    (kit_folder / ".venv").symlink_to(ROOT / ".venv")
    pid = local_tenant.start_local_tenant(kit_folder / "mine").pid
    _make_clean(kit_folder, kit_folder / "mine")
    assert not _pid_alive(pid)
    assert (kit_folder / "mine" / "private_key.pem").read_text() == "kept"


def test_make_clean_spares_other_pid(kit_folder: Path) -> None:
    record = kit_folder / "mine" / "local-tenant" / "server.json"
    record.parent.mkdir()
    with subprocess.Popen(["sleep", "60"]) as other:
        try:
            record.write_text(json.dumps({"pid": other.pid, "running": True}, indent=2))
            output = _make_clean(kit_folder, kit_folder / "mine")
            assert other.poll() is None
            assert f"pid {other.pid}" in output
        finally:
            other.kill()


def test_kernel_shutdown_sends_no_interrupt() -> None:
    with _kernel_manager_class() as manager_class:
        manager = manager_class(kernel_name="python3")
        manager.shutting_down = True
        # With no kernel running, an interrupt that went through would raise.
        asyncio.run(manager._async_interrupt_kernel())
        manager.shutting_down = False
        with pytest.raises(RuntimeError, match="No kernel is running"):
            asyncio.run(manager._async_interrupt_kernel())

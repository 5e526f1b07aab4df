"""Run the step notebooks headless with papermill, as ``make run`` does.

``python -m qlik_tutorial.run_notebooks [--alg ES384]`` executes every
``notebooks/NN_*.ipynb`` in order in the ``python3`` kernel with
``interactive=False`` and a timeout per cell, in a fresh scratch workspace
(``build/run-workspace``, never the learner's ``workspace/``). The executed
copies go to ``build/executed/``, and one line per step prints what the step
produced. A local tenant started for the run is stopped at the end.

``--only 06_troubleshooting`` (may be repeated) runs just the named steps, in
the same fresh workspace, and replaces only their executed copies. This is
how to run notebook 06 alone: its cells tagged ``raises-exception`` fail on
purpose, which the runner accepts and plain ``papermill`` 2.7 reports as a
failed run.

``--alg`` takes RS256, RS512 or ES384 in any case. With a supplied key, an
alg that does not fit it stops the run before the first step.

The tenant, client ID and private key come from ``--tenant``,
``--client-id`` and ``--private-key``, or from ``QLIK_TENANT``,
``QLIK_CLIENT_ID`` and ``QLIK_PRIVATE_KEY``, which the kernels inherit.
Without a tenant the run uses the local tenant. A notebook whose metadata
has ``{"qlik_tutorial": {"tenants": ["local"]}}`` runs only against the
local tenant.

Exit status: 0 when every step ran, 1 when a cell failed (its error is
printed) or the run could not start, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError
from traitlets import default

from . import local_tenant
from .errors import AlgorithmError, QlikTutorialError, WorkspaceError
from .jwk import describe_key
from .key_loading import KeySource, load_private_key
from .keys import alg_for_key, check_key_for_alg
from .notebook import (
    LOCAL_TENANT,
    METADATA_KEY,
    PRIVATE_KEY_ENV,
    SUMMARY_MIMETYPE,
    TENANT_ENV,
)
from .workspace import find_repository_root

KERNEL_NAME = "python3"
STEP_PATTERN = "[0-9][0-9]_*.ipynb"
DEFAULT_CELL_TIMEOUT = 120.0
# Marks a workspace that the runner made, so it deletes no other folder.
SCRATCH_MARKER = ".scratch-workspace"
# The tag of cells that fail on purpose, and the tag papermill gives the
# error banner it adds to an executed copy.
RAISES_EXCEPTION = "raises-exception"
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"

Echo = Callable[[str], None]
# Exceptions papermill raises when a cell fails, runs too long or kills its kernel.
CELL_FAILURES = (PapermillExecutionError, CellTimeoutError, DeadKernelError)


@dataclass(frozen=True)
class StepResult:
    """One executed (or skipped) step notebook and what it produced."""

    name: str
    output: Path | None
    summary: str | None


class StepFailedError(Exception):
    """A cell of a step notebook raised, timed out or lost its kernel."""

    def __init__(self, name: str, output: Path, error: Exception):
        self.name = name
        self.output = output
        self.error = error
        if isinstance(error, PapermillExecutionError):
            reason = f"in cell {error.exec_count}: {error.ename}: {error.evalue}"
        else:
            reason = f"{type(error).__name__}: {error}"
        super().__init__(f"{name} failed {reason}")


def repository_root() -> Path:
    """Return the kit's root: from the current folder, else the package's."""
    root = find_repository_root(Path.cwd())
    if root is None:
        root = find_repository_root(Path(__file__).resolve().parent, climb=False)
    return root if root is not None else Path.cwd().resolve()


def step_notebooks(folder: Path) -> list[Path]:
    """Return the step notebooks ``NN_*.ipynb`` in ``folder``, in step order."""
    return sorted(folder.glob(STEP_PATTERN))


def supports_tenant(notebook: Path, *, local: bool) -> bool:
    """Return whether the notebook runs against a local (or a real) tenant."""
    metadata = nbformat.read(notebook, as_version=4).metadata  # type: ignore[no-untyped-call]
    tenants = metadata.get(METADATA_KEY, {}).get("tenants")
    if not isinstance(tenants, list):
        return True
    return ("local" if local else "real") in tenants


def is_local(tenant: str | None) -> bool:
    """Return whether ``tenant`` (else ``QLIK_TENANT``) means the local tenant."""
    value = tenant if tenant is not None else os.environ.get(TENANT_ENV, "")
    return value.strip().lower() in ("", LOCAL_TENANT)


def step_summary(notebook: Any) -> str | None:
    """Return the last summary line a step displayed, or None."""
    summary = None
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get(SUMMARY_MIMETYPE)
            if isinstance(data, Mapping) and isinstance(data.get("line"), str):
                summary = data["line"]
    return summary


def fresh_workspace(folder: Path) -> Path:
    """Empty the scratch workspace, stopping its local tenant, and return it.

    Only a folder that the runner made (it carries the scratch marker) or an
    empty one is used, so a learner's workspace and keys are never deleted.
    """
    if folder.exists() and any(folder.iterdir()):
        if not (folder / SCRATCH_MARKER).exists():
            raise WorkspaceError(
                "Refusing to reuse a workspace that make run did not create",
                value=str(folder),
                cause="the run empties its workspace first, and this folder may "
                "hold keys in use",
                fix="pass --workspace with a new or empty folder",
            )
        local_tenant.stop_local_tenant(folder)
        shutil.rmtree(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (folder / SCRATCH_MARKER).write_text("Made by make run; emptied by the next run.\n")
    return folder


@contextmanager
def _kernel_manager_class() -> Iterator[type[AsyncKernelManager]]:
    # The kernel talks over Unix sockets in a private folder: TCP on loopback
    # would work too, but ipykernel warns that it is unencrypted.
    with tempfile.TemporaryDirectory(prefix="qlik-kernels-") as folder:
        socket_prefix = str(Path(folder) / "kernel")

        class IPCKernelManager(AsyncKernelManager):
            @default("transport")
            def _default_transport(self) -> str:
                return "ipc"

            @default("ip")
            def _default_ip(self) -> str:
                return socket_prefix

            async def _async_interrupt_kernel(self) -> None:
                # jupyter_client 8 interrupts a kernel before shutting it down,
                # and ipykernel may then log "KeyboardInterrupt caught in
                # kernel" to the run's stderr. A finished notebook has nothing
                # left to interrupt.
                if self.shutting_down:
                    return
                await super()._async_interrupt_kernel()

        yield IPCKernelManager


def execute_notebook(
    source: Path,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
) -> Any:
    """Execute one notebook with papermill in the ``python3`` kernel.

    Raises papermill's `PapermillExecutionError` when a cell fails, after
    writing the executed copy with the error in it. A cell tagged
    ``raises-exception`` fails on purpose: its error stays in the executed
    copy and raises nothing, although papermill 2.7 reports it as a failure.
    """
    with _kernel_manager_class() as manager:
        try:
            return papermill.execute_notebook(
                str(source),
                str(output),
                parameters=dict(parameters),
                kernel_name=KERNEL_NAME,
                language="python",
                progress_bar=False,
                log_output=False,
                execution_timeout=cell_timeout,
                kernel_manager_class=manager,
            )
        except PapermillExecutionError:
            executed = nbformat.read(output, as_version=4)  # type: ignore[no-untyped-call]
            if _has_unexpected_error(executed):
                raise
    # Drop the error banner and anchor cells papermill put in before raising.
    executed.cells = [
        cell
        for cell in executed.cells
        if PAPERMILL_ERROR_TAG not in cell.get("metadata", {}).get("tags", [])
    ]
    nbformat.write(executed, output)  # type: ignore[no-untyped-call]
    return executed


def _has_unexpected_error(notebook: Any) -> bool:
    """Return whether a cell not tagged ``raises-exception`` has an error output."""
    for cell in notebook.cells:
        if RAISES_EXCEPTION in cell.get("metadata", {}).get("tags", []):
            continue
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return True
    return False


def run_steps(
    notebooks: Path,
    workspace: Path,
    output: Path,
    *,
    alg: str | None = None,
    tenant: str | None = None,
    client_id: str | None = None,
    private_key: Path | None = None,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    only: Collection[str] | None = None,
    echo: Echo = print,
) -> list[StepResult]:
    """Execute the step notebooks in order in a fresh workspace.

    ``only`` names the steps to run (such as ``06_troubleshooting``); None
    runs them all. The executed copies of the steps that run are deleted
    first, and a full run deletes every other copy too, so none is left from
    an older run. Raises `StepFailedError` at the first failing cell, and
    `AlgorithmError` before any step when ``alg`` does not fit the supplied
    key. The local tenant, when the run uses it, is stopped however the run
    ends.
    """
    check_alg_fits_key(alg, private_key)
    local = is_local(tenant)
    workspace = fresh_workspace(workspace.resolve())
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    for stale in output.glob(STEP_PATTERN):
        if only is None or stale.stem in only:
            stale.unlink()

    parameters: dict[str, Any] = {"workspace": str(workspace), "interactive": False}
    for name, value in (
        ("alg", alg),
        ("tenant", tenant),
        ("client_id", client_id),
        ("private_key", str(private_key.resolve()) if private_key else None),
    ):
        if value is not None:
            parameters[name] = value

    results = []
    try:
        for source in step_notebooks(notebooks):
            name = source.stem
            if only is not None and name not in only:
                continue
            if not supports_tenant(source, local=local):
                echo(f"{name:<22} skipped: it runs only against the local tenant")
                results.append(StepResult(name, None, None))
                continue
            target = output / source.name
            try:
                executed = execute_notebook(
                    source, target, parameters, cell_timeout=cell_timeout
                )
            except (
                PapermillExecutionError,
                CellTimeoutError,
                DeadKernelError,
            ) as error:
                raise StepFailedError(name, target, error) from None
            summary = step_summary(executed)
            echo(f"{name:<22} {summary or 'done'}")
            results.append(StepResult(name, target, summary))
    finally:
        if local:
            local_tenant.stop_local_tenant(workspace)
    return results


def _supplied_key(private_key: Path | None) -> tuple[KeySource | None, str]:
    if private_key is not None:
        return private_key, "--private-key"
    text = os.environ.get(PRIVATE_KEY_ENV, "")
    return (text, PRIVATE_KEY_ENV) if text.strip() else (None, "")


def check_alg_fits_key(alg: str | None, private_key: Path | None) -> None:
    """Raise `AlgorithmError` when ``alg`` cannot sign with the supplied key.

    The supplied key is ``private_key``, else ``QLIK_PRIVATE_KEY``. A key
    that does not load, or that fits no alg, is left for step 01 to report.
    """
    source, origin = _supplied_key(private_key)
    if alg is None or source is None:
        return
    try:
        key = load_private_key(source)
        check_key_for_alg(key, alg)
        return
    except AlgorithmError:
        pass
    except QlikTutorialError:
        return
    try:
        key_alg = alg_for_key(key)
    except QlikTutorialError:
        return
    fits = "RS256 or RS512" if key_alg == "RS256" else key_alg
    expected_key = "an RSA key" if alg.startswith("RS") else "a P-384 key"
    raise AlgorithmError(
        "--alg does not fit the supplied private key",
        value=alg,
        cause=f"the key from {origin} is an {describe_key(key)}, which signs {fits}",
        fix=f"leave ALG unset (the key's alg is used) or run make run ALG={key_alg} "
        f"(--alg {key_alg}); for {alg}, supply {expected_key}",
        case="alg_key_mismatch",
    )


def _parser(root: Path) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m qlik_tutorial.run_notebooks",
        description="Run the step notebooks headless with papermill.",
    )
    parser.add_argument(
        "--alg",
        type=str.upper,
        choices=("RS256", "RS512", "ES384"),
        help="signature algorithm of a new key (default: the supplied key's, "
        "else RS256)",
    )
    parser.add_argument(
        "--tenant", help=f"tenant host or URL, or 'local' (default: ${TENANT_ENV})"
    )
    parser.add_argument(
        "--client-id", help="client ID on a real tenant (default: $QLIK_CLIENT_ID)"
    )
    parser.add_argument(
        "--private-key",
        type=Path,
        help="private key file to use (default: $QLIK_PRIVATE_KEY, else a new key)",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="STEP",
        help="run only this step notebook, such as 06_troubleshooting; may be "
        "given more than once (default: every step)",
    )
    parser.add_argument(
        "--notebooks",
        type=Path,
        default=root / "notebooks",
        help="folder of the step notebooks (default: %(default)s)",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=root / "build" / "run-workspace",
        help="scratch workspace, emptied first (default: %(default)s)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=root / "build" / "executed",
        help="folder for the executed notebooks (default: %(default)s)",
    )
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=DEFAULT_CELL_TIMEOUT,
        help="seconds a cell may run (default: %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the steps and return the exit status."""
    parser = _parser(repository_root())
    arguments = parser.parse_args(argv)
    notebooks = arguments.notebooks.resolve()
    steps = [path.stem for path in step_notebooks(notebooks)]
    if not steps:
        print(f"No step notebooks ({STEP_PATTERN}) in {notebooks}", file=sys.stderr)
        return 1
    only = None
    if arguments.only is not None:
        only = {name.removesuffix(".ipynb") for name in arguments.only}
        for name in sorted(only.difference(steps)):
            parser.error(
                f"--only {name}: no such step notebook in {notebooks}; the steps "
                f"are {', '.join(steps)}"
            )
    try:
        run_steps(
            notebooks,
            arguments.workspace,
            arguments.output,
            alg=arguments.alg,
            tenant=arguments.tenant,
            client_id=arguments.client_id,
            private_key=arguments.private_key,
            cell_timeout=arguments.cell_timeout,
            only=only,
        )
    except StepFailedError as failure:
        print(str(failure), file=sys.stderr)
        print(f"The executed notebook is {failure.output}", file=sys.stderr)
        return 1
    except QlikTutorialError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"Executed notebooks: {arguments.output.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

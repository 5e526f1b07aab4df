"""The workspace folder that notebooks, the CLI and the local tenant share.

============================  ===========================================  ======
file                          contents                                     secret
============================  ===========================================  ======
``private_key.pem``           the private key (PKCS#8)                     0600
``public_key.pem``            the public key                               no
``public_jwk.json``           the public JWK                               no
``client.json``               tenant origin, client ID, alg, kid           no
``assertion.jwt``             the last signed client assertion             0600
``token.json``                the last token response, absolute expiry     0600
``local-tenant/``             the local tenant's database, log, admin key  key
============================  ===========================================  ======

The default workspace is ``workspace/`` at the repository root, so code
started from the root and from ``notebooks/`` finds the same folder;
``$QLIK_TUTORIAL_WORKSPACE`` overrides it.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import ResponseFormatError, TenantURLError, WorkspaceError
from .files import ensure_folder, write_atomic
from .jwk import SUPPORTED_ALGS
from .tenant import tenant_origin
from .token_endpoint import AccessToken

logger = logging.getLogger(__name__)

WORKSPACE_ENV = "QLIK_TUTORIAL_WORKSPACE"
PROJECT_NAME = "qlik-private-key-jwt"
FOLDER_NAME = "workspace"
FOLDER_MODE = 0o700
_JSON_TYPES = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
}


def default_workspace() -> Path:
    """Return ``$QLIK_TUTORIAL_WORKSPACE`` or ``workspace/`` at the repository root.

    The repository root is the nearest parent of the current directory whose
    ``pyproject.toml`` names this project, else the folder holding the
    installed package's source (an editable install). Outside the repository
    the workspace is ``workspace/`` in the current directory.
    """
    configured = os.environ.get(WORKSPACE_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    root = find_repository_root(Path.cwd())
    if root is None:
        root = find_repository_root(Path(__file__).resolve().parent, climb=False)
    if root is None:
        root = Path.cwd().resolve()
    return root / FOLDER_NAME


def find_repository_root(start: Path, *, climb: bool = True) -> Path | None:
    """Return the nearest folder from ``start`` up whose pyproject names the kit.

    With ``climb=False`` only the parent of ``start`` is checked, which is
    where an editable install keeps ``pyproject.toml``.
    """
    start = start.resolve()
    candidates = [start, *start.parents] if climb else [start.parent]
    for folder in candidates:
        if _names_project(folder / "pyproject.toml"):
            return folder
    return None


def _names_project(pyproject: Path) -> bool:
    try:
        with pyproject.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return False
    project = data.get("project")
    return isinstance(project, dict) and project.get("name") == PROJECT_NAME


@dataclass(frozen=True)
class ClientConfig:
    """The registered OAuth client: tenant origin, client ID, alg and kid."""

    tenant: str
    client_id: str
    alg: str
    kid: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "tenant", tenant_origin(self.tenant))


@dataclass(frozen=True)
class Workspace:
    """Paths of a workspace folder and the reading and writing of its files."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser())

    @property
    def private_key(self) -> Path:
        """The private key, PKCS#8 PEM, mode 0600."""
        return self.root / "private_key.pem"

    @property
    def public_key(self) -> Path:
        """The public key, PEM."""
        return self.root / "public_key.pem"

    @property
    def public_jwk(self) -> Path:
        """The public JWK to paste into the console."""
        return self.root / "public_jwk.json"

    @property
    def client_json(self) -> Path:
        """The registered client: tenant origin, client ID, alg and kid."""
        return self.root / "client.json"

    @property
    def assertion(self) -> Path:
        """The last signed client assertion, mode 0600."""
        return self.root / "assertion.jwt"

    @property
    def token_json(self) -> Path:
        """The last token response with its absolute expiry, mode 0600."""
        return self.root / "token.json"

    @property
    def local_tenant_dir(self) -> Path:
        """The local tenant's database, log, URL and admin key."""
        return self.root / "local-tenant"

    def ensure(self) -> Workspace:
        """Create the folder with mode 0700 when it is missing and return self."""
        if not self.root.exists():
            ensure_folder(self.root, FOLDER_MODE)
            logger.debug("created workspace %s", self.root)
        elif not self.root.is_dir():
            raise WorkspaceError(
                "Workspace is not a folder",
                value=str(self.root),
                cause="a file has the workspace's name",
                fix=f"move the file away, or set {WORKSPACE_ENV} to another folder",
            )
        return self

    def load_client(self) -> ClientConfig | None:
        """Return the client from client.json, or None when the file is missing."""
        data = self._read_json(self.client_json)
        if data is None:
            return None
        fields = ("tenant", "client_id", "alg", "kid")
        missing = [name for name in fields if not isinstance(data.get(name), str)]
        if missing:
            raise WorkspaceError(
                "Client file is incomplete",
                value=f"{self.client_json} lacks {', '.join(missing)}",
                cause="client.json must name the tenant, client ID, alg and kid",
                fix="register the client again, or delete client.json and pass "
                "the tenant and client ID as parameters",
            )
        if not data["client_id"].strip():
            raise WorkspaceError(
                "Client file has an empty client_id",
                value=str(self.client_json),
                cause="iss and sub of every assertion must be the client ID",
                fix="set client_id to the Client ID the console shows, or pass "
                "the client ID as a parameter",
            )
        if data["alg"] not in SUPPORTED_ALGS:
            raise WorkspaceError(
                "Client file names an unsupported alg",
                value=f"{self.client_json}: alg {data['alg']!r}",
                cause=f"Qlik Cloud accepts only {', '.join(SUPPORTED_ALGS)}",
                fix="set alg to the alg of the registered key, as public_jwk.json "
                "shows it",
            )
        try:
            return ClientConfig(**{name: data[name] for name in fields})
        except TenantURLError as error:
            raise WorkspaceError(
                "Client file names an invalid tenant",
                value=f"{self.client_json}: tenant {error.value!r}",
                cause=f"{error.symptom}; {error.cause}",
                fix="correct the tenant in client.json, or delete client.json and "
                "pass the tenant as a parameter",
            ) from None

    def save_client(self, config: ClientConfig) -> Path:
        """Write client.json, which contains no secret."""
        self.ensure()
        text = json.dumps(asdict(config), indent=2) + "\n"
        return write_atomic(self.client_json, text, secret=False)

    def save_assertion(self, jwt: str) -> Path:
        """Write the signed client assertion to assertion.jwt (mode 0600)."""
        self.ensure()
        return write_atomic(self.assertion, jwt.strip() + "\n", secret=True)

    def load_assertion(self) -> str | None:
        """Return the last saved client assertion, or None when there is none."""
        try:
            text = self.assertion.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise self._unreadable(self.assertion, error) from None
        return text or None

    def save_token(self, token: AccessToken) -> Path:
        """Write the token response and its absolute expiry (mode 0600)."""
        self.ensure()
        text = json.dumps(token.to_json(), indent=2) + "\n"
        return write_atomic(self.token_json, text, secret=True)

    def load_token(self) -> AccessToken | None:
        """Return the saved access token, or None when there is none."""
        data = self._read_json(self.token_json)
        if data is None:
            return None
        try:
            return AccessToken.from_response(data, url=str(self.token_json))
        except ResponseFormatError as error:
            raise WorkspaceError(
                "Token file is not a token response",
                value=str(self.token_json),
                cause=error.symptom,
                fix="delete token.json and request a new access token",
            ) from None

    def _read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            # utf-8-sig also reads files that an editor saved with a BOM.
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise self._unreadable(path, error) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise WorkspaceError(
                "Workspace file is not valid JSON",
                value=f"{path} (line {error.lineno}, column {error.colno})",
                cause=error.msg,
                fix=f"fix or delete {path.name}; the kit writes it again",
            ) from None
        if not isinstance(data, dict):
            raise WorkspaceError(
                "Workspace file does not hold a JSON object",
                value=str(path),
                cause=f"the file holds a JSON {_JSON_TYPES.get(type(data), 'list')}",
                fix=f"delete {path.name}; the kit writes it again",
            )
        return data

    @staticmethod
    def _unreadable(path: Path, error: Exception) -> WorkspaceError:
        return WorkspaceError(
            "Workspace file cannot be read",
            value=str(path),
            cause=str(error),
            fix="check the file's permissions, or delete it so the kit writes it again",
        )

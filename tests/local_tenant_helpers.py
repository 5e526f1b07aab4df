"""Helpers for the local tenant tests: keys, JWKs and assertions made here.

Assertions are signed with PyJWT and ``cryptography`` directly, not with the
kit's own signing code, so the server is tested independently of the client.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from qlik_tutorial.local_tenant.server import LocalTenantServer, running_server
from qlik_tutorial.local_tenant.settings import Settings
from qlik_tutorial.local_tenant.state import StateFiles, read_admin_key

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
HTTP_TIMEOUT = 10.0
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _octets(number: int, length: int | None = None) -> bytes:
    size = length or max(1, (number.bit_length() + 7) // 8)
    return number.to_bytes(size, "big")


@functools.cache
def rsa_key(bits: int = 2048, seed: int = 0) -> rsa.RSAPrivateKey:
    """Return an RSA key, generated once per run for each (bits, seed) pair."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_key(seed: int = 0) -> ec.EllipticCurvePrivateKey:
    """Return a P-384 key, generated once per seed for the whole run."""
    return ec.generate_private_key(ec.SECP384R1())


def public_jwk(key: PrivateKey, alg: str, kid: str | None = None) -> dict[str, Any]:
    """Return the public JWK of ``key`` with alg, use sig and a kid."""
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        jwk: dict[str, Any] = {
            "kty": "RSA",
            "n": b64url(_octets(numbers.n)),
            "e": b64url(_octets(numbers.e)),
        }
    else:
        point = key.public_key().public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-384",
            "x": b64url(_octets(point.x, 48)),
            "y": b64url(_octets(point.y, 48)),
        }
    jwk.update(alg=alg, use="sig", kid=kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}")
    return jwk


def compact(
    header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes
) -> str:
    """Build a compact JWS from parts as given, with no signing."""
    return ".".join(
        [
            b64url(json.dumps(header).encode()),
            b64url(json.dumps(claims).encode()),
            b64url(signature),
        ]
    )


@dataclass
class RegisteredClient:
    """A client registered on a local tenant, with its private key."""

    client_id: str
    key: PrivateKey
    alg: str
    kid: str
    token_url: str

    def claims(self, now: float | None = None, **changes: Any) -> dict[str, Any]:
        """Return valid claims; a change to None drops that claim."""
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "jti": str(uuid.uuid4()),
            "iat": issued,
            "exp": issued + 300,
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def assertion(
        self,
        *,
        header: Mapping[str, Any] | None = None,
        key: PrivateKey | None = None,
        alg: str | None = None,
        **changes: Any,
    ) -> str:
        """Return a signed assertion; ``header`` replaces the default header."""
        chosen = alg or self.alg
        headers = dict(header) if header is not None else {"kid": self.kid}
        return jwt.encode(
            self.claims(**changes), key or self.key, algorithm=chosen, headers=headers
        )


@dataclass
class Tenant:
    """An in-process local tenant with an HTTP session and its admin key."""

    server: LocalTenantServer
    files: StateFiles
    settings: Settings
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token_url(self) -> str:
        return self.server.url + "/oauth/token"

    @property
    def admin_key(self) -> str:
        return read_admin_key(self.files)

    def admin(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(
            method,
            self.url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.admin_key}"},
            timeout=HTTP_TIMEOUT,
            allow_redirects=False,
        )

    def register(
        self,
        alg: str = "RS256",
        key: PrivateKey | None = None,
        **fields: Any,
    ) -> RegisteredClient:
        """Register a client with one key for ``alg``; ``fields`` change the body."""
        key = key or (ec_key() if alg == "ES384" else rsa_key())
        jwk = public_jwk(key, alg)
        body = {
            "appType": "web",
            "clientName": "test client",
            "publicKeys": [jwk],
            "connectionConfig": {"consentMethod": "trusted"},
        }
        body.update(fields)
        response = self.admin("POST", "/api/v1/oauth-clients", body)
        assert response.status_code == 201, response.text
        return RegisteredClient(
            response.json()["clientId"], key, alg, jwk["kid"], self.token_url
        )

    def post_token(
        self,
        client: RegisteredClient | None,
        assertion: str | None = None,
        *,
        as_json: bool = False,
        **fields: Any,
    ) -> requests.Response:
        """POST a token request; ``fields`` change the form, None drops a field."""
        form: dict[str, Any] = {
            "grant_type": "client_credentials",
            "client_id": client.client_id if client else None,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion
            if assertion is not None
            else (client.assertion() if client else None),
            "scope": "user_default",
        }
        form.update(fields)
        form = {name: value for name, value in form.items() if value is not None}
        if as_json:
            return self.session.post(self.token_url, json=form, timeout=HTTP_TIMEOUT)
        return self.session.post(self.token_url, data=form, timeout=HTTP_TIMEOUT)

    def get(self, path: str, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.session.get(
            self.url + path,
            headers=headers,
            timeout=HTTP_TIMEOUT,
            allow_redirects=False,
        )


@contextlib.contextmanager
def local_tenant(workspace: Path, settings: Settings | None = None) -> Iterator[Tenant]:
    """Run a local tenant in a thread of the test process until the block ends."""
    files = StateFiles.for_workspace(workspace)
    settings = settings or Settings()
    session = requests.Session()
    session.trust_env = False  # never send loopback traffic through a proxy
    with running_server(files, settings) as server, session:
        yield Tenant(server, files, settings, session)


def error_of(response: requests.Response) -> tuple[int, str]:
    """Return the status and the first error code of an error response."""
    return response.status_code, response.json()["errors"][0]["code"]


def detail_of(response: requests.Response) -> str:
    return str(response.json()["errors"][0]["detail"])


class Clock:
    """A settable clock for the server, so tests never sleep."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tenant(tmp_path: Path, clock: Clock) -> Iterator[Tenant]:
    """A local tenant whose clock the test sets."""
    with local_tenant(tmp_path / "workspace", Settings(clock=clock)) as running:
        yield running

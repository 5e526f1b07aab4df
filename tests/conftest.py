"""Shared fixtures. Key generation is slow, so keys are made once per session."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from http_fixtures import ScriptedServer, closed_port, silent_socket

from qlik_tutorial.keys import SigningKey


@pytest.fixture(scope="session")
def rsa_private_key() -> rsa.RSAPrivateKey:
    """An RSA 2048-bit private key shared by the whole session."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_private_key() -> ec.EllipticCurvePrivateKey:
    """A P-384 private key shared by the whole session."""
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="session")
def rs256_key(rsa_private_key: rsa.RSAPrivateKey) -> SigningKey:
    return SigningKey.from_private_key(rsa_private_key, "RS256")


@pytest.fixture(scope="session")
def rs512_key(rsa_private_key: rsa.RSAPrivateKey) -> SigningKey:
    return SigningKey.from_private_key(rsa_private_key, "RS512")


@pytest.fixture(scope="session")
def es384_key(ec_private_key: ec.EllipticCurvePrivateKey) -> SigningKey:
    return SigningKey.from_private_key(ec_private_key, "ES384")


def _key_material(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> list[str]:
    """Return strings that would reveal ``key`` if they showed up in a message."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    # Any 16-character run of the PEM body counts as leaked key material.
    fragments = [body[start : start + 16] for start in range(0, len(body) - 16, 8)]
    numbers = key.private_numbers()
    secrets = (
        [numbers.private_value]
        if isinstance(numbers, ec.EllipticCurvePrivateNumbers)
        else [
            numbers.d,
            numbers.p,
            numbers.q,
            numbers.public_numbers.n,
        ]
    )
    for value in secrets:
        raw = value.to_bytes((value.bit_length() + 7) // 8)
        encoded = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        fragments += [encoded[:16], str(value)[:24], format(value, "x")[:24]]
    return ["-----BEGIN", "-----END", *fragments]


@pytest.fixture(scope="session")
def assert_no_key_material() -> Callable[[str, object], None]:
    """Return a check that a message shows none of a private key's material."""

    def check(message: str, key: object) -> None:
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        leaked = [fragment for fragment in _key_material(key) if fragment in message]
        assert leaked == [], f"message contains key material: {message}"

    return check


@pytest.fixture
def scripted_server() -> Iterator[Callable[[], ScriptedServer]]:
    """Return a factory of started `ScriptedServer`s, all stopped after the test."""
    servers: list[ScriptedServer] = []

    def start() -> ScriptedServer:
        server = ScriptedServer().start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def silent_tenant() -> Iterator[str]:
    """The URL of a socket on 127.0.0.1 that accepts and never responds."""
    with silent_socket() as url:
        yield url


@pytest.fixture
def refused_tenant() -> str:
    """The URL of a port on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{closed_port()}"

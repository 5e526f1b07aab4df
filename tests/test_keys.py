"""Key generation, loading, SigningKey and key files."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import jose.backends
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from jose.backends.cryptography_backend import CryptographyECKey, CryptographyRSAKey

from qlik_tutorial.errors import AlgorithmError, PrivateKeyError, WorkspaceError
from qlik_tutorial.jwk import base64url_decode, base64url_encode, thumbprint
from qlik_tutorial.keys import (
    PRIVATE_KEY_ENV,
    SigningKey,
    alg_for_key,
    check_key_for_alg,
    generate_private_key,
    load_private_key,
    write_key_files,
)

NoKeyMaterial = Callable[[str, object], None]

# RFC 7515 appendix A.2: the RSA key of A.2.1 as a JWK, the JWS Signing Input
# (header {"alg":"RS256"} and the example claims) and the RS256 signature.
RFC7515_A2_JWK = {
    "kty": "RSA",
    "n": (
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJ"
        "PMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0"
        "LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uD"
        "Zlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2"
        "PAcDTW9gb54h4FRWyuXpoQ"
    ),
    "e": "AQAB",
    "d": (
        "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9S"
        "E-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVd"
        "xzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQ"
        "UShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjn"
        "czT0QU91p1DhOVRuOopznQ"
    ),
    "p": (
        "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQT"
        "a9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV"
        "5z-y2XDwGUc"
    ),
    "q": (
        "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7"
        "C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rj"
        "cJIDEz9RWdc"
    ),
    "dp": (
        "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_P"
        "I7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1Xs"
        "mvkxHQAdYo0"
    ),
    "dq": (
        "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oK"
        "r6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTd"
        "lqvd0tIiTHU"
    ),
    "qi": (
        "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_"
        "QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0J"
        "KSHuLFkuQ3U"
    ),
}
RFC7515_A2_SIGNING_INPUT = (
    "eyJhbGciOiJSUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
)
RFC7515_A2_SIGNATURE = (
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W"
    "2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkS"
    "jtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnv"
    "Wh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
)


def _number(jwk: dict[str, str], name: str) -> int:
    return int.from_bytes(base64url_decode(jwk[name]))


def _rfc7515_private_key() -> rsa.RSAPrivateKey:
    jwk = RFC7515_A2_JWK
    public = rsa.RSAPublicNumbers(_number(jwk, "e"), _number(jwk, "n"))
    names = ("p", "q", "d", "dp", "dq", "qi")
    p, q, d, dp, dq, qi = (_number(jwk, name) for name in names)
    return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, public).private_key()


def _pem(key: object, form: serialization.PrivateFormat, password: bytes = b"") -> str:
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, form, encryption).decode()


def _public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )


# --- python-jose backend -------------------------------------------------------


def test_jose_rsa_backend_is_cryptography() -> None:
    assert jose.backends.RSAKey is CryptographyRSAKey


def test_jose_ec_backend_is_cryptography() -> None:
    assert jose.backends.ECKey is CryptographyECKey


@pytest.mark.parametrize("fixture", ["rs256_key", "rs512_key"])
def test_signing_key_jose_rsa_class(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    key: SigningKey = request.getfixturevalue(fixture)
    assert isinstance(key.jose_key, CryptographyRSAKey)


def test_signing_key_jose_ec_class(es384_key: SigningKey) -> None:
    assert isinstance(es384_key.jose_key, CryptographyECKey)


def test_signing_key_parsed_once(
    rs256_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    def construct_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("python-jose key constructed while signing")

    monkeypatch.setattr("jose.jwk.construct", construct_again)
    monkeypatch.setattr("jose.jws.jwk.construct", construct_again)
    assert len(rs256_key.sign(b"header.claims")) == 256


# --- RFC 7515 appendix A.2 -----------------------------------------------------


def test_sign_rfc7515_a2_signature() -> None:
    key = SigningKey.from_private_key(_rfc7515_private_key(), "RS256")
    signature = key.sign(RFC7515_A2_SIGNING_INPUT.encode("ascii"))
    assert base64url_encode(signature) == RFC7515_A2_SIGNATURE


# --- generation -----------------------------------------------------------------


def test_generate_default_rsa_2048() -> None:
    key = generate_private_key()
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048


def test_generate_larger_rsa() -> None:
    key = generate_private_key("RS512", 3072)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 3072


def test_generate_es384_p384() -> None:
    key = generate_private_key("ES384")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP384R1)


@pytest.mark.parametrize("bits", [1024, 2047, 32768])
def test_generate_bits_out_of_range(bits: int) -> None:
    with pytest.raises(PrivateKeyError, match=f"out of range: {bits}"):
        generate_private_key("RS256", bits)


def test_generate_bits_not_int() -> None:
    with pytest.raises(PrivateKeyError, match="whole number"):
        generate_private_key("RS256", 2048.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", ["HS256", "none", "ES256"])
def test_generate_unsupported_alg(alg: str) -> None:
    with pytest.raises(AlgorithmError, match=f"Unsupported algorithm: '{alg}'"):
        generate_private_key(alg)


def test_signing_key_generate(es384_key: SigningKey) -> None:
    key = SigningKey.generate("ES384")
    assert key.alg == "ES384"
    assert key.kid != es384_key.kid


# --- loading from each kind of source -------------------------------------------


def test_load_path_str(tmp_path: Path, rsa_private_key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "private_key.pem"
    path.write_text(_pem(rsa_private_key, serialization.PrivateFormat.PKCS8))
    loaded = load_private_key(str(path))
    assert loaded.private_numbers() == rsa_private_key.private_numbers()


def test_load_path_object(
    tmp_path: Path, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    path = tmp_path / "private_key.pem"
    path.write_text(_pem(ec_private_key, serialization.PrivateFormat.PKCS8))
    loaded = load_private_key(path)
    assert loaded.private_numbers() == ec_private_key.private_numbers()


def test_load_pem_text(rsa_private_key: rsa.RSAPrivateKey) -> None:
    text = _pem(rsa_private_key, serialization.PrivateFormat.TraditionalOpenSSL)
    loaded = load_private_key(text)
    assert loaded.private_numbers() == rsa_private_key.private_numbers()


def test_load_pem_bytes(ec_private_key: ec.EllipticCurvePrivateKey) -> None:
    data = _pem(ec_private_key, serialization.PrivateFormat.TraditionalOpenSSL).encode()
    loaded = load_private_key(data)
    assert loaded.private_numbers() == ec_private_key.private_numbers()


def test_load_environment(
    monkeypatch: pytest.MonkeyPatch, rsa_private_key: rsa.RSAPrivateKey
) -> None:
    monkeypatch.setenv(
        PRIVATE_KEY_ENV, _pem(rsa_private_key, serialization.PrivateFormat.PKCS8)
    )
    loaded = load_private_key()
    assert loaded.private_numbers() == rsa_private_key.private_numbers()


def test_load_environment_escaped_newlines(
    monkeypatch: pytest.MonkeyPatch, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    pem = _pem(ec_private_key, serialization.PrivateFormat.PKCS8)
    monkeypatch.setenv(PRIVATE_KEY_ENV, pem.strip().replace("\n", "\\n"))
    loaded = load_private_key()
    assert loaded.private_numbers() == ec_private_key.private_numbers()


def test_load_environment_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRIVATE_KEY_ENV, raising=False)
    with pytest.raises(
        PrivateKeyError, match=r"No private key given.*QLIK_PRIVATE_KEY"
    ):
        load_private_key()


def test_load_environment_not_pem(
    monkeypatch: pytest.MonkeyPatch,
    rsa_private_key: rsa.RSAPrivateKey,
    assert_no_key_material: NoKeyMaterial,
) -> None:
    pem = _pem(rsa_private_key, serialization.PrivateFormat.PKCS8)
    body = "".join(pem.splitlines()[1:-1])
    monkeypatch.setenv(PRIVATE_KEY_ENV, body)
    with pytest.raises(PrivateKeyError, match=r"\$QLIK_PRIVATE_KEY") as caught:
        load_private_key()
    assert_no_key_material(str(caught.value), rsa_private_key)


def test_load_der(tmp_path: Path, rsa_private_key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "private_key.der"
    path.write_bytes(
        rsa_private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    loaded = load_private_key(path)
    assert loaded.private_numbers() == rsa_private_key.private_numbers()


# --- encrypted keys --------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
)
def test_load_encrypted_with_password(
    rsa_private_key: rsa.RSAPrivateKey, form: serialization.PrivateFormat
) -> None:
    pem = _pem(rsa_private_key, form, b"correct horse")
    loaded = load_private_key(pem, password="correct horse")
    assert loaded.private_numbers() == rsa_private_key.private_numbers()


@pytest.mark.parametrize(
    "form",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
)
def test_load_encrypted_without_password(
    rsa_private_key: rsa.RSAPrivateKey,
    form: serialization.PrivateFormat,
    assert_no_key_material: NoKeyMaterial,
) -> None:
    pem = _pem(rsa_private_key, form, b"correct horse")
    with pytest.raises(PrivateKeyError, match="encrypted and no password") as caught:
        load_private_key(pem)
    assert_no_key_material(str(caught.value), rsa_private_key)


@pytest.mark.parametrize(
    "form",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
)
def test_load_encrypted_wrong_password(
    ec_private_key: ec.EllipticCurvePrivateKey,
    form: serialization.PrivateFormat,
    assert_no_key_material: NoKeyMaterial,
) -> None:
    pem = _pem(ec_private_key, form, b"correct horse")
    with pytest.raises(PrivateKeyError, match="Wrong password") as caught:
        load_private_key(pem, password=b"battery staple")
    message = str(caught.value)
    assert "battery" not in message
    assert_no_key_material(message, ec_private_key)


def test_load_password_for_plain_key(
    rsa_private_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    pem = _pem(rsa_private_key, serialization.PrivateFormat.PKCS8)
    with caplog.at_level(logging.WARNING, logger="qlik_tutorial.key_loading"):
        loaded = load_private_key(pem, password="unused")
    assert loaded.private_numbers() == rsa_private_key.private_numbers()
    assert "not encrypted" in caplog.text


# --- keys made by openssl ---------------------------------------------------------

OPENSSL_COMMANDS = {
    "genrsa": ["genrsa", "2048"],
    "genrsa-traditional": ["genrsa", "-traditional", "2048"],
    "ecparam": ["ecparam", "-name", "secp384r1", "-genkey"],
    "ecparam-noout": ["ecparam", "-name", "secp384r1", "-genkey", "-noout"],
}


@pytest.fixture(scope="module")
def openssl_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Key files written by the openssl command line, as the tutorial makes them."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("openssl")
    paths = {}
    for name, arguments in OPENSSL_COMMANDS.items():
        paths[name] = folder / f"{name}.pem"
        # The output option goes first: genrsa takes the key size last.
        command, *options = arguments
        _openssl(command, "-out", str(paths[name]), *options)
    paths["pubout"] = folder / "public_key.pem"
    _openssl(
        "rsa", "-in", str(paths["genrsa"]), "-pubout", "-out", str(paths["pubout"])
    )
    return paths


@pytest.mark.parametrize(
    ("name", "first_line", "alg"),
    [
        pytest.param(name, first_line, alg, id=name)
        for name, first_line, alg in [
            ("genrsa", "-----BEGIN PRIVATE KEY-----", "RS256"),
            ("genrsa-traditional", "-----BEGIN RSA PRIVATE KEY-----", "RS256"),
            ("ecparam", "-----BEGIN EC PARAMETERS-----", "ES384"),
            ("ecparam-noout", "-----BEGIN EC PRIVATE KEY-----", "ES384"),
        ]
    ],
)
def test_openssl_key_loads_and_signs(
    openssl_keys: dict[str, Path], name: str, first_line: str, alg: str
) -> None:
    path = openssl_keys[name]
    assert path.read_text().splitlines()[0] == first_line
    key = SigningKey.load(path)
    assert key.alg == alg
    signature = key.sign(b"header.claims")
    _verify(key, signature, b"header.claims")


def test_openssl_pubout_as_private_key(openssl_keys: dict[str, Path]) -> None:
    path = openssl_keys["pubout"]
    with pytest.raises(PrivateKeyError, match="public key was given") as caught:
        load_private_key(path)
    message = str(caught.value)
    assert str(path) in message
    assert "private_key.pem" in message


def _openssl(*arguments: str) -> None:
    subprocess.run(["openssl", *arguments], check=True, capture_output=True, timeout=60)


def _verify(key: SigningKey, signature: bytes, data: bytes) -> None:
    """Verify with cryptography directly, so python-jose is not its own judge."""
    public = key.public_key
    if isinstance(public, rsa.RSAPublicKey):
        digest = hashes.SHA512() if key.alg == "RS512" else hashes.SHA256()
        public.verify(signature, data, padding.PKCS1v15(), digest)
        return
    assert len(signature) == 96
    r, s = int.from_bytes(signature[:48]), int.from_bytes(signature[48:])
    public.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA384()))


# --- inputs that are not a usable private key --------------------------------------


def _certificate_pem(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kit test")])
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_load_certificate(
    tmp_path: Path,
    rsa_private_key: rsa.RSAPrivateKey,
    assert_no_key_material: NoKeyMaterial,
) -> None:
    path = tmp_path / "cert.pem"
    path.write_text(_certificate_pem(rsa_private_key))
    with pytest.raises(PrivateKeyError, match="certificate was given") as caught:
        load_private_key(path)
    assert str(path) in str(caught.value)
    assert_no_key_material(str(caught.value), rsa_private_key)


def test_load_public_key_text(
    rsa_private_key: rsa.RSAPrivateKey, assert_no_key_material: NoKeyMaterial
) -> None:
    text = _public_pem(rsa_private_key)
    with pytest.raises(PrivateKeyError, match="public key was given") as caught:
        load_private_key(text)
    assert f"PEM text ({len(text)} characters)" in str(caught.value)
    assert_no_key_material(str(caught.value), rsa_private_key)


def test_load_truncated_pem(
    rsa_private_key: rsa.RSAPrivateKey, assert_no_key_material: NoKeyMaterial
) -> None:
    pem = _pem(rsa_private_key, serialization.PrivateFormat.PKCS8)
    with pytest.raises(PrivateKeyError, match="truncated") as caught:
        load_private_key(pem[: len(pem) // 2])
    assert_no_key_material(str(caught.value), rsa_private_key)


def test_load_damaged_pem_body(
    rsa_private_key: rsa.RSAPrivateKey, assert_no_key_material: NoKeyMaterial
) -> None:
    lines = _pem(rsa_private_key, serialization.PrivateFormat.PKCS8).splitlines()
    damaged = "\n".join([lines[0], *lines[1:5], lines[-1]]) + "\n"
    with pytest.raises(PrivateKeyError, match="cannot be parsed") as caught:
        load_private_key(damaged)
    assert_no_key_material(str(caught.value), rsa_private_key)


def test_load_ed25519(tmp_path: Path) -> None:
    path = tmp_path / "ed25519.pem"
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(PrivateKeyError, match="Key type is not supported") as caught:
        load_private_key(path)
    message = str(caught.value)
    assert "Ed25519" in message
    assert str(path) in message
    assert "-----BEGIN" not in message


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.pem"
    with pytest.raises(PrivateKeyError, match="not found") as caught:
        load_private_key(path)
    assert str(path) in str(caught.value)
    assert "keygen" in str(caught.value)


def test_load_directory(tmp_path: Path) -> None:
    with pytest.raises(PrivateKeyError, match="is a directory"):
        load_private_key(tmp_path)


def test_load_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "private_key.pem"
    path.write_text("\n")
    with pytest.raises(PrivateKeyError, match="empty"):
        load_private_key(path)


def test_load_jwk_json(tmp_path: Path, rs256_key: SigningKey) -> None:
    path = tmp_path / "public_jwk.json"
    path.write_text(json.dumps(rs256_key.public_jwk))
    with pytest.raises(PrivateKeyError, match="JSON document"):
        load_private_key(path)


def test_load_ec_parameters_only() -> None:
    pem = "-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n"
    with pytest.raises(PrivateKeyError, match="EC parameters but no key"):
        load_private_key(pem)


def test_load_openssh_key() -> None:
    pem = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        "b3BlbnNzaA==\n"
        "-----END OPENSSH PRIVATE KEY-----\n"
    )
    with pytest.raises(PrivateKeyError, match="OpenSSH"):
        load_private_key(pem)


def test_load_base64_without_markers(
    rsa_private_key: rsa.RSAPrivateKey, assert_no_key_material: NoKeyMaterial
) -> None:
    pem = _pem(rsa_private_key, serialization.PrivateFormat.PKCS8)
    body = "".join(pem.splitlines()[1:-1])
    with pytest.raises(PrivateKeyError, match="neither a file path nor") as caught:
        load_private_key(body)
    assert_no_key_material(str(caught.value), rsa_private_key)


def test_load_long_path_without_suffix(
    tmp_path: Path, rsa_private_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / ("key_material_for_the_workshop_" * 3)
    path.write_text(_pem(rsa_private_key, serialization.PrivateFormat.PKCS8))
    loaded = load_private_key(str(path))
    assert loaded.private_numbers() == rsa_private_key.private_numbers()


def test_load_windows_line_endings(ec_private_key: ec.EllipticCurvePrivateKey) -> None:
    pem = _pem(ec_private_key, serialization.PrivateFormat.PKCS8)
    loaded = load_private_key(pem.replace("\n", "\r\n"))
    assert loaded.private_numbers() == ec_private_key.private_numbers()


def test_load_stdin_marker() -> None:
    with pytest.raises(PrivateKeyError, match="Standard input"):
        load_private_key("-")


# --- keys that do not fit the alg ------------------------------------------------


def test_small_rsa_rejected() -> None:
    # A key the kit must reject, so the weak size is the point of the test.
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    with pytest.raises(
        PrivateKeyError, match="too small: 'RSA 1024-bit key'"
    ) as caught:
        SigningKey.from_private_key(small)
    assert "2048" in str(caught.value)


def test_p256_for_es384() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(PrivateKeyError, match="wrong curve") as caught:
        SigningKey.from_private_key(key, "ES384")
    assert "P-256" in str(caught.value)
    assert "secp384r1" in str(caught.value)


def test_p256_default_alg() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(PrivateKeyError, match="wrong curve"):
        alg_for_key(key)


@pytest.mark.parametrize("alg", ["HS256", "none"])
def test_unsupported_alg_named(rs256_key: SigningKey, alg: str) -> None:
    with pytest.raises(
        AlgorithmError, match=f"Unsupported algorithm: '{alg}'"
    ) as caught:
        SigningKey.from_private_key(rs256_key.private_key, alg)
    assert "RS256" in caught.value.fix


def test_lowercase_alg(rs256_key: SigningKey) -> None:
    with pytest.raises(AlgorithmError, match="case-sensitive") as caught:
        check_key_for_alg(rs256_key.private_key, "rs256")
    assert "'RS256'" in str(caught.value)


def test_rsa_key_for_es384(
    rs256_key: SigningKey, assert_no_key_material: NoKeyMaterial
) -> None:
    with pytest.raises(AlgorithmError, match="does not fit the key: 'ES384'") as caught:
        SigningKey.from_private_key(rs256_key.private_key, "ES384")
    assert_no_key_material(str(caught.value), rs256_key.private_key)


def test_ec_key_for_rs256(es384_key: SigningKey) -> None:
    with pytest.raises(AlgorithmError, match="does not fit the key: 'RS256'"):
        SigningKey.from_private_key(es384_key.private_key, "RS256")


def test_public_key_object_for_signing(rs256_key: SigningKey) -> None:
    with pytest.raises(PrivateKeyError, match="public key was given"):
        check_key_for_alg(rs256_key.public_key, "RS256")


def test_load_with_alg_checks(
    tmp_path: Path, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    path = tmp_path / "private_key.pem"
    path.write_text(_pem(ec_private_key, serialization.PrivateFormat.PKCS8))
    with pytest.raises(AlgorithmError, match="'RS512'"):
        SigningKey.load(path, alg="RS512")


# --- SigningKey -----------------------------------------------------------------


def test_alg_for_key(rs256_key: SigningKey, es384_key: SigningKey) -> None:
    assert alg_for_key(rs256_key.private_key) == "RS256"
    assert alg_for_key(es384_key.public_key) == "ES384"


def test_signing_key_default_alg(rsa_private_key: rsa.RSAPrivateKey) -> None:
    assert SigningKey.from_private_key(rsa_private_key).alg == "RS256"


def test_signing_key_kid_is_thumbprint(rs256_key: SigningKey) -> None:
    assert rs256_key.kid == thumbprint(rs256_key.public_jwk)


def test_signing_key_kid_same_for_rs512(
    rs256_key: SigningKey, rs512_key: SigningKey
) -> None:
    assert rs256_key.kid == rs512_key.kid
    assert rs512_key.public_jwk["alg"] == "RS512"


def test_signing_key_public_jwk_copy(rs256_key: SigningKey) -> None:
    rs256_key.public_jwk["kid"] = "changed"
    assert rs256_key.public_jwk["kid"] == rs256_key.kid


@pytest.mark.parametrize("fixture", ["rs256_key", "rs512_key", "es384_key"])
def test_signing_key_repr_hides_key(
    fixture: str, request: pytest.FixtureRequest, assert_no_key_material: NoKeyMaterial
) -> None:
    key: SigningKey = request.getfixturevalue(fixture)
    text = repr(key)
    assert key.kid in text
    assert key.alg in text
    assert_no_key_material(text, key.private_key)
    assert_no_key_material(str(key), key.private_key)


@pytest.mark.parametrize("fixture", ["rs256_key", "rs512_key", "es384_key"])
def test_signing_key_sign_verifies(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    key: SigningKey = request.getfixturevalue(fixture)
    _verify(key, key.sign(b"eyJ.eyJ"), b"eyJ.eyJ")


def test_es384_signature_raw_96_bytes(es384_key: SigningKey) -> None:
    signature = es384_key.sign(b"header.claims")
    assert len(signature) == 96
    order = int("ff" * 24 + "c7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16)
    assert 0 < int.from_bytes(signature[:48]) < order
    assert 0 < int.from_bytes(signature[48:]) < order


def test_private_pem_pkcs8(rs256_key: SigningKey) -> None:
    pem = rs256_key.private_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert (
        load_private_key(pem).private_numbers()
        == rs256_key.private_key.private_numbers()
    )


def test_private_pem_encrypted(es384_key: SigningKey) -> None:
    pem = es384_key.private_pem(password="s3cret")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    loaded = load_private_key(pem, password="s3cret")
    assert loaded.private_numbers() == es384_key.private_key.private_numbers()


def test_public_pem(es384_key: SigningKey) -> None:
    assert es384_key.public_pem() == _public_pem(es384_key.private_key)


# --- key files --------------------------------------------------------------------


def test_write_key_files(tmp_path: Path, rs256_key: SigningKey) -> None:
    files = write_key_files(tmp_path / "workspace", rs256_key)
    assert files.private_key.read_bytes() == rs256_key.private_pem()
    assert files.public_key.read_text() == rs256_key.public_pem()
    assert json.loads(files.public_jwk.read_text()) == rs256_key.public_jwk
    assert files.backups == ()


def test_write_key_files_modes(tmp_path: Path, es384_key: SigningKey) -> None:
    files = write_key_files(tmp_path, es384_key)
    assert stat.S_IMODE(files.private_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.public_jwk.stat().st_mode) == 0o644


def test_write_key_files_loads_back(tmp_path: Path, es384_key: SigningKey) -> None:
    files = write_key_files(tmp_path, es384_key)
    assert SigningKey.load(files.private_key).kid == es384_key.kid


def test_write_key_files_never_overwrites(
    tmp_path: Path, rs256_key: SigningKey, es384_key: SigningKey
) -> None:
    files = write_key_files(tmp_path, rs256_key)
    with pytest.raises(WorkspaceError, match="already exists") as caught:
        write_key_files(tmp_path, es384_key)
    assert str(files.private_key) in str(caught.value)
    assert files.private_key.read_bytes() == rs256_key.private_pem()
    assert json.loads(files.public_jwk.read_text())["kid"] == rs256_key.kid


def test_write_key_files_fix_names_parameter(
    tmp_path: Path, rs256_key: SigningKey
) -> None:
    write_key_files(tmp_path, rs256_key)
    with pytest.raises(WorkspaceError) as caught:
        write_key_files(tmp_path, rs256_key)
    assert "force=True" in caught.value.fix
    assert "--force" not in caught.value.fix


def test_write_key_files_force_backs_up(
    tmp_path: Path, rs256_key: SigningKey, es384_key: SigningKey
) -> None:
    write_key_files(tmp_path, rs256_key)
    (tmp_path / "private_key.pem").chmod(0o644)
    moment = dt.datetime(2026, 12, 4, 15, 20, 0, tzinfo=dt.UTC).timestamp()
    files = write_key_files(tmp_path, es384_key, force=True, now=lambda: moment)
    names = sorted(path.name for path in files.backups)
    assert names == [
        "private_key.20261204T152000Z.pem.bak",
        "public_jwk.20261204T152000Z.json.bak",
        "public_key.20261204T152000Z.pem.bak",
    ]
    backup = tmp_path / "private_key.20261204T152000Z.pem.bak"
    assert backup.read_bytes() == rs256_key.private_pem()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert SigningKey.load(files.private_key).kid == es384_key.kid


def test_write_key_files_force_twice_same_second(
    tmp_path: Path, rs256_key: SigningKey, es384_key: SigningKey
) -> None:
    moment = dt.datetime(2026, 12, 4, 15, 20, 0, tzinfo=dt.UTC).timestamp()
    write_key_files(tmp_path, rs256_key)
    write_key_files(tmp_path, es384_key, force=True, now=lambda: moment)
    files = write_key_files(tmp_path, rs256_key, force=True, now=lambda: moment)
    assert tmp_path / "private_key.20261204T152000Z-1.pem.bak" in files.backups
    first = tmp_path / "private_key.20261204T152000Z.pem.bak"
    assert first.read_bytes() == rs256_key.private_pem()


def test_write_key_files_force_without_old_key(
    tmp_path: Path, rs256_key: SigningKey
) -> None:
    files = write_key_files(tmp_path, rs256_key, force=True)
    assert files.backups == ()
    assert files.private_key.exists()


def test_write_key_files_dangling_symlink_refused(
    tmp_path: Path, rs256_key: SigningKey
) -> None:
    link = tmp_path / "private_key.pem"
    link.symlink_to(tmp_path / "moved-away.pem")
    with pytest.raises(WorkspaceError, match="already exists") as caught:
        write_key_files(tmp_path, rs256_key)
    assert "symbolic link" in str(caught.value)
    assert link.is_symlink()


def test_write_key_files_force_moves_dangling_symlink(
    tmp_path: Path, rs256_key: SigningKey
) -> None:
    link = tmp_path / "private_key.pem"
    link.symlink_to(tmp_path / "moved-away.pem")
    files = write_key_files(tmp_path, rs256_key, force=True)
    assert [path.is_symlink() for path in files.backups] == [True]
    assert SigningKey.load(files.private_key).kid == rs256_key.kid


def test_write_key_files_force_keeps_symlink_target(
    tmp_path: Path, rs256_key: SigningKey, es384_key: SigningKey
) -> None:
    elsewhere = tmp_path / "keys" / "registered.pem"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(rs256_key.private_pem())
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "private_key.pem").symlink_to(elsewhere)
    files = write_key_files(tmp_path / "ws", es384_key, force=True)
    assert elsewhere.read_bytes() == rs256_key.private_pem()
    assert SigningKey.load(files.backups[0]).kid == rs256_key.kid
    assert not files.private_key.is_symlink()


def test_write_key_files_key_path_is_folder(
    tmp_path: Path, rs256_key: SigningKey
) -> None:
    (tmp_path / "private_key.pem").mkdir()
    with pytest.raises(WorkspaceError, match="is a folder"):
        write_key_files(tmp_path, rs256_key, force=True)
    assert (tmp_path / "private_key.pem").is_dir()


def test_write_key_files_folder_is_file(tmp_path: Path, rs256_key: SigningKey) -> None:
    (tmp_path / "keys").write_text("a file")
    with pytest.raises(WorkspaceError, match="is a file"):
        write_key_files(tmp_path / "keys", rs256_key)


def test_load_empty_string() -> None:
    with pytest.raises(PrivateKeyError, match="Private key source is empty"):
        load_private_key("")


def test_load_path_with_nul_byte() -> None:
    with pytest.raises(PrivateKeyError, match="cannot be read"):
        load_private_key("private\x00key.pem")


@pytest.mark.parametrize("source", [5, ["private_key.pem"]])
def test_load_source_of_wrong_type(source: object) -> None:
    with pytest.raises(PrivateKeyError, match="not a path or PEM text"):
        load_private_key(source)  # type: ignore[arg-type]


def test_load_environment_escaped_crlf(
    monkeypatch: pytest.MonkeyPatch, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    pem = _pem(ec_private_key, serialization.PrivateFormat.PKCS8)
    monkeypatch.setenv(PRIVATE_KEY_ENV, pem.strip().replace("\n", "\\r\\n"))
    loaded = load_private_key()
    assert loaded.private_numbers() == ec_private_key.private_numbers()


def test_load_environment_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rs256_key: SigningKey
) -> None:
    files = write_key_files(tmp_path, rs256_key)
    monkeypatch.setenv(PRIVATE_KEY_ENV, str(files.private_key))
    assert SigningKey.load().kid == rs256_key.kid


def test_load_environment_short_text_not_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PRIVATE_KEY_ENV, "hunter2-not-a-key")
    with pytest.raises(PrivateKeyError, match=r"\$QLIK_PRIVATE_KEY") as caught:
        load_private_key()
    assert "hunter2" not in str(caught.value)


# --- troubleshooting case of each key error ----------------------------------------

_PKCS8 = serialization.PrivateFormat.PKCS8


def _file(folder: Path, text: str | bytes) -> Path:
    path = folder / "private_key.pem"
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    return path


def _pem_block(label: str) -> str:
    return f"-----BEGIN {label}-----\nBgUrgQQAIg==\n-----END {label}-----\n"


def _ed25519_pem(folder: Path, key: rsa.RSAPrivateKey) -> bytes:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, _PKCS8, serialization.NoEncryption()
    )


def _damaged(folder: Path, key: rsa.RSAPrivateKey) -> str:
    lines = _pem(key, _PKCS8).splitlines()
    return "\n".join([lines[0], *lines[1:5], lines[-1]]) + "\n"


def _csr_pem(folder: Path, key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kit test")])
    request = x509.CertificateSigningRequestBuilder().subject_name(name)
    signed = request.sign(key, hashes.SHA256())
    return signed.public_bytes(serialization.Encoding.PEM).decode()


KeyInput = Callable[[Path, rsa.RSAPrivateKey], object]

# How to build a key source that load_private_key rejects, and its case.
LOAD_CASES: list[tuple[str, KeyInput, str]] = [
    ("wrong_type", lambda folder, key: 5, "key_source_type"),
    ("empty_text", lambda folder, key: "", "key_source_empty"),
    ("stdin", lambda folder, key: "-", "key_source_stdin"),
    ("base64_body", lambda folder, key: "QUJD" * 20, "not_path_or_pem"),
    ("missing", lambda folder, key: folder / "absent.pem", "key_file_not_found"),
    ("directory", lambda folder, key: folder, "key_path_is_folder"),
    ("nul_byte", lambda folder, key: "private\x00key.pem", "key_file_read_failed"),
    (
        "too_large",
        lambda folder, key: _file(folder, b"\n" * (1024 * 1024 + 1)),
        "key_file_too_large",
    ),
    ("empty_file", lambda folder, key: _file(folder, "\n"), "key_file_empty"),
    ("json", lambda folder, key: _file(folder, '{"kty": "RSA"}'), "json_given"),
    ("not_pem", lambda folder, key: b"not a key", "not_pem"),
    ("der_damaged", lambda folder, key: b"\x30\x03\x02\x01\x00", "key_damaged"),
    (
        "certificate",
        lambda folder, key: _certificate_pem(key),
        "certificate_given",
    ),
    ("csr", _csr_pem, "csr_given"),
    ("public_key", lambda folder, key: _public_pem(key), "public_key_given"),
    (
        "ec_parameters",
        lambda folder, key: _pem_block("EC PARAMETERS"),
        "ec_parameters_only",
    ),
    (
        "openssh",
        lambda folder, key: _pem_block("OPENSSH PRIVATE KEY"),
        "openssh_key",
    ),
    ("other_block", lambda folder, key: _pem_block("X509 CRL"), "pem_not_private_key"),
    (
        "truncated",
        lambda folder, key: _pem(key, _PKCS8)[:200],
        "pem_truncated",
    ),
    ("damaged", _damaged, "key_damaged"),
    (
        "encrypted",
        lambda folder, key: _pem(key, _PKCS8, b"correct horse"),
        "encrypted_no_password",
    ),
    ("ed25519", _ed25519_pem, "unsupported_key_type"),
]


@pytest.mark.parametrize(
    ("make_source", "case"),
    [(make, case) for _, make, case in LOAD_CASES],
    ids=[name for name, _, _ in LOAD_CASES],
)
def test_load_error_case(
    tmp_path: Path,
    rsa_private_key: rsa.RSAPrivateKey,
    make_source: KeyInput,
    case: str,
) -> None:
    source = make_source(tmp_path, rsa_private_key)
    with pytest.raises(PrivateKeyError) as caught:
        load_private_key(source)  # type: ignore[arg-type]
    assert caught.value.case == case


def test_load_case_wrong_password(ec_private_key: ec.EllipticCurvePrivateKey) -> None:
    pem = _pem(ec_private_key, _PKCS8, b"correct horse")
    with pytest.raises(PrivateKeyError) as caught:
        load_private_key(pem, password="battery staple")
    assert caught.value.case == "wrong_password"


def test_load_case_environment_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRIVATE_KEY_ENV, raising=False)
    with pytest.raises(PrivateKeyError) as caught:
        load_private_key()
    assert caught.value.case == "no_key_source"


def test_load_case_unreadable(
    tmp_path: Path, rsa_private_key: rsa.RSAPrivateKey
) -> None:
    path = _file(tmp_path, _pem(rsa_private_key, _PKCS8))
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("root reads files of mode 0")
    with pytest.raises(PrivateKeyError) as caught:
        load_private_key(path)
    assert caught.value.case == "key_file_unreadable"


@pytest.mark.parametrize(
    ("bits", "case"), [(2048.0, "key_bits_not_int"), (1024, "key_bits_out_of_range")]
)
def test_generate_error_case(bits: int, case: str) -> None:
    with pytest.raises(PrivateKeyError) as caught:
        generate_private_key("RS256", bits)
    assert caught.value.case == case


def test_public_key_for_signing_case(rs256_key: SigningKey) -> None:
    with pytest.raises(PrivateKeyError) as caught:
        check_key_for_alg(rs256_key.public_key, "RS256")
    assert caught.value.case == "public_key_given"


def test_write_key_files_exists_case(tmp_path: Path, rs256_key: SigningKey) -> None:
    write_key_files(tmp_path, rs256_key)
    with pytest.raises(WorkspaceError) as caught:
        write_key_files(tmp_path, rs256_key)
    assert caught.value.case == "private_key_exists"


def test_write_key_files_folder_case(tmp_path: Path, rs256_key: SigningKey) -> None:
    (tmp_path / "private_key.pem").mkdir()
    with pytest.raises(WorkspaceError) as caught:
        write_key_files(tmp_path, rs256_key, force=True)
    assert caught.value.case == "key_path_is_folder"


def test_write_key_files_backup_case(tmp_path: Path, rs256_key: SigningKey) -> None:
    write_key_files(tmp_path, rs256_key)
    tmp_path.chmod(0o500)
    try:
        if os.access(tmp_path, os.W_OK):
            pytest.skip("root writes into read-only folders")
        with pytest.raises(WorkspaceError) as caught:
            write_key_files(tmp_path, rs256_key, force=True)
    finally:
        tmp_path.chmod(0o700)
    assert caught.value.case == "key_backup_failed"


def test_write_key_files_no_backup_name_case(
    tmp_path: Path, rs256_key: SigningKey
) -> None:
    write_key_files(tmp_path, rs256_key)
    moment = dt.datetime(2026, 12, 4, 15, 20, 0, tzinfo=dt.UTC).timestamp()
    stamp = "20261204T152000Z"
    (tmp_path / f"private_key.{stamp}.pem.bak").write_text("taken")
    for attempt in range(1, 100):
        (tmp_path / f"private_key.{stamp}-{attempt}.pem.bak").write_text("taken")
    with pytest.raises(WorkspaceError) as caught:
        write_key_files(tmp_path, rs256_key, force=True, now=lambda: moment)
    assert caught.value.case == "no_backup_name"

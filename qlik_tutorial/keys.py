"""Private keys: generate them, hold them ready for signing and write key files.

Qlik Cloud verifies client assertions signed with RS256 or RS512 (RSA keys of
at least 2048 bits) or ES384 (EC keys on curve P-384). Loading a key from a
file, PEM text or ``$QLIK_PRIVATE_KEY`` lives in `qlik_tutorial.key_loading`;
`load_private_key` is importable from here too.

`SigningKey` parses a key once and reuses the parsed key for every
signature::

    key = SigningKey.load("workspace/private_key.pem")
    key.kid, key.public_jwk   # what the console registers

Error messages describe a key by its type and size, never by its bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk as jose_jwk
from jose.backends.cryptography_backend import CryptographyECKey, CryptographyRSAKey

from .errors import PrivateKeyError, WorkspaceError
from .files import ensure_folder, write_atomic
from .jwk import (
    KEY_TYPE_FOR_ALG,
    MIN_RSA_BITS,
    SUPPORTED_ALGS,
    check_alg,
    check_public_key_for_alg,
    describe_key,
    public_jwk,
)
from .key_loading import (
    _PEM_FIX,
    PRIVATE_KEY_ENV,
    PRIVATE_KEY_FILE,
    KeySource,
    PrivateKey,
    load_private_key,
)

__all__ = [
    "PRIVATE_KEY_ENV",
    "SUPPORTED_ALGS",
    "KeyFiles",
    "PrivateKey",
    "SigningKey",
    "alg_for_key",
    "check_key_files",
    "check_key_for_alg",
    "generate_private_key",
    "key_files",
    "load_private_key",
    "write_key_files",
]

logger = logging.getLogger(__name__)

MAX_RSA_BITS = 16384
PUBLIC_KEY_FILE = "public_key.pem"
PUBLIC_JWK_FILE = "public_jwk.json"
FOLDER_MODE = 0o700


def generate_private_key(alg: str = "RS256", bits: int = 2048) -> PrivateKey:
    """Generate a private key for ``alg``.

    RS256 and RS512 get an RSA key of ``bits`` bits (2048 to 16384) with
    public exponent 65537. ES384 gets a P-384 key, whose size is fixed, so
    ``bits`` is ignored.
    """
    check_alg(alg)
    if KEY_TYPE_FOR_ALG[alg] == "EC":
        return ec.generate_private_key(ec.SECP384R1())
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise PrivateKeyError(
            "RSA key size is not a whole number of bits",
            value=bits,
            cause="the key size counts bits",
            fix="pass bits=2048, 3072 or 4096",
            case="key_bits_not_int",
        )
    if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
        raise PrivateKeyError(
            "RSA key size is out of range",
            value=bits,
            cause=f"RS256 and RS512 need at least {MIN_RSA_BITS} bits, and the kit "
            f"generates at most {MAX_RSA_BITS}",
            fix="pass bits=2048, or 4096 for a long-lived key",
            case="key_bits_out_of_range",
        )
    logger.debug("Generating an RSA %d-bit key", bits)
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def alg_for_key(key: object) -> str:
    """Return the alg a key signs with by default: ES384 for P-384, RS256 for RSA.

    Raises `PrivateKeyError` for a key no supported alg fits, such as an RSA
    key under 2048 bits, a P-256 key or an Ed25519 key.
    """
    public = _public_half(key)
    alg = "ES384" if isinstance(public, ec.EllipticCurvePublicKey) else "RS256"
    check_public_key_for_alg(public, alg)
    return alg


def check_key_for_alg(key: object, alg: str) -> None:
    """Raise unless ``key`` is a private key that can sign ``alg`` for Qlik Cloud.

    An unsupported alg (HS256, none, ES256, ...) or one that does not fit the
    key type raises `AlgorithmError`. A public key, an RSA key under 2048
    bits, an EC key on another curve than P-384 or another key type raises
    `PrivateKeyError`.
    """
    check_alg(alg)
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise PrivateKeyError(
            "A public key was given where the private key is expected",
            value=describe_key(key),
            cause="signing needs the private key, because a public key only verifies",
            fix=_PEM_FIX,
            case="public_key_given",
        )
    check_public_key_for_alg(_public_half(key), alg)


def _public_half(key: object) -> object:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key.public_key()
    return key


class SigningKey:
    """A private key with its alg, parsed once and reused for every signature.

    Signing goes through python-jose's key object for the cryptography
    backend, built once here, so the pure-python ``rsa`` and ``ecdsa``
    backends never sign. ``kid`` is the RFC 7638 thumbprint of the public JWK.
    ``repr`` shows the alg, kid and key size, never key material.
    """

    __slots__ = ("_alg", "_jose_key", "_private_key", "_public_jwk")

    def __init__(self, private_key: PrivateKey, alg: str | None = None) -> None:
        if alg is None:
            alg = alg_for_key(private_key)
        check_key_for_alg(private_key, alg)
        jose_key = jose_jwk.construct(private_key, alg)
        if not isinstance(jose_key, CryptographyRSAKey | CryptographyECKey):
            raise PrivateKeyError(
                "python-jose did not select its cryptography backend",
                value=type(jose_key).__name__,
                cause="its pure-python backends are slow, and ecdsa's signing "
                "is open to a timing attack (CVE-2024-23342)",
                fix="install python-jose[cryptography] so that cryptography "
                "imports cleanly",
                case="jose_backend_not_cryptography",
            )
        self._private_key: PrivateKey = private_key
        self._alg = alg
        self._jose_key: Any = jose_key
        self._public_jwk = public_jwk(private_key.public_key(), alg)

    @classmethod
    def from_private_key(cls, key: PrivateKey, alg: str | None = None) -> SigningKey:
        """Wrap a loaded or generated key. ``alg`` defaults to `alg_for_key`."""
        return cls(key, alg)

    @classmethod
    def load(
        cls,
        source: KeySource | None = None,
        *,
        alg: str | None = None,
        password: str | bytes | None = None,
    ) -> SigningKey:
        """Load a key as `load_private_key` does and wrap it for signing."""
        return cls(load_private_key(source, password=password), alg)

    @classmethod
    def generate(cls, alg: str = "RS256", bits: int = 2048) -> SigningKey:
        """Generate a new key for ``alg`` as `generate_private_key` does."""
        return cls(generate_private_key(alg, bits), alg)

    @property
    def alg(self) -> str:
        """JWS algorithm: RS256, RS512 or ES384."""
        return self._alg

    @property
    def kid(self) -> str:
        """Key ID: the RFC 7638 thumbprint of the public JWK."""
        return self._public_jwk["kid"]

    @property
    def public_jwk(self) -> dict[str, str]:
        """Public JWK to register with the OAuth client (a fresh copy)."""
        return dict(self._public_jwk)

    @property
    def private_key(self) -> PrivateKey:
        """The cryptography private key object."""
        return self._private_key

    @property
    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        """The cryptography public key object."""
        return self._private_key.public_key()

    @property
    def jose_key(self) -> Any:
        """python-jose's key object, built once on the cryptography backend."""
        return self._jose_key

    def sign(self, signing_input: bytes) -> bytes:
        """Sign ``signing_input`` (``header.payload`` in base64url) with ``alg``.

        RS256 and RS512 return a PKCS#1 v1.5 signature as long as the modulus.
        ES384 returns raw ``r || s``, 48 bytes each (RFC 7518 section 3.4),
        not the DER form that OpenSSL produces.
        """
        signature: bytes = self._jose_key.sign(signing_input)
        return signature

    def public_pem(self) -> str:
        """Return the public key as SubjectPublicKeyInfo PEM text."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        ).decode("ascii")

    def private_pem(self, *, password: str | bytes | None = None) -> bytes:
        """Return the private key as PKCS#8 PEM, encrypted if ``password`` is set."""
        encryption: serialization.KeySerializationEncryption
        if password:
            secret = password.encode("utf-8") if isinstance(password, str) else password
            encryption = serialization.BestAvailableEncryption(secret)
        else:
            encryption = serialization.NoEncryption()
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def __repr__(self) -> str:
        return (
            f"SigningKey(alg={self._alg!r}, kid={self.kid!r}, "
            f"key={describe_key(self._private_key)!r})"
        )


@dataclasses.dataclass(frozen=True)
class KeyFiles:
    """Paths of a key pair's files, and of the backups made before writing them."""

    private_key: Path
    public_key: Path
    public_jwk: Path
    backups: tuple[Path, ...] = ()


def key_files(directory: str | os.PathLike[str]) -> KeyFiles:
    """Return the key file paths inside ``directory`` without touching them."""
    folder = Path(directory).expanduser()
    return KeyFiles(
        private_key=folder / PRIVATE_KEY_FILE,
        public_key=folder / PUBLIC_KEY_FILE,
        public_jwk=folder / PUBLIC_JWK_FILE,
    )


def write_key_files(
    directory: str | os.PathLike[str],
    key: SigningKey,
    *,
    force: bool = False,
    now: Callable[[], float] | None = None,
) -> KeyFiles:
    """Write a key pair's files into ``directory`` and return their paths.

    The files are ``private_key.pem`` (PKCS#8, mode 0600), ``public_key.pem``
    (SubjectPublicKeyInfo) and ``public_jwk.json``. An existing
    ``private_key.pem`` is never overwritten: without ``force`` this raises
    `WorkspaceError`. With ``force`` the existing key files first move to
    dated backups such as ``private_key.20261204T152000Z.pem.bak``
    (UTC, from ``now()``), the private one with mode 0600. Each file is
    written atomically, and the private key is linked into place only if no
    other writer got there first.
    """
    files = key_files(directory)
    backups: tuple[Path, ...] = ()
    if _check_existing_key(files, force=force):
        backups = _back_up(files, (now or time.time)())
    ensure_folder(files.private_key.parent, FOLDER_MODE)
    write_atomic(files.private_key, key.private_pem(), secret=True, overwrite=False)
    write_atomic(files.public_key, key.public_pem(), secret=False)
    jwk_text = json.dumps(key.public_jwk, indent=2) + "\n"
    write_atomic(files.public_jwk, jwk_text, secret=False)
    logger.info(
        "Wrote %s key files to %s (kid %s)", key.alg, files.private_key.parent, key.kid
    )
    return dataclasses.replace(files, backups=backups)


def check_key_files(directory: str | os.PathLike[str], *, force: bool = False) -> None:
    """Raise `WorkspaceError` where `write_key_files` would refuse to write.

    Checking first spares the generation of a large key whose files could
    not be written.
    """
    _check_existing_key(key_files(directory), force=force)


def _check_existing_key(files: KeyFiles, *, force: bool) -> bool:
    """Return whether a private key exists and is to be backed up."""
    if files.private_key.is_dir():
        raise WorkspaceError(
            "Private key path is a folder",
            value=str(files.private_key),
            cause=f"a folder has the name of the key file {PRIVATE_KEY_FILE}",
            fix="move the folder away, or write the keys to another folder",
            case="key_path_is_folder",
        )
    # A symbolic link counts as an existing key even when its target is gone.
    if not (files.private_key.is_symlink() or files.private_key.exists()):
        return False
    if not force:
        cause = "a new key would replace the one your OAuth client may have "
        cause += "registered"
        if not files.private_key.exists():
            cause = "it is a symbolic link to a missing file, and " + cause
        raise WorkspaceError(
            "A private key already exists",
            value=str(files.private_key),
            cause=cause,
            fix="load the existing key, or pass force=True to move it to a dated "
            "backup first",
            case="private_key_exists",
        )
    return True


def _back_up(files: KeyFiles, timestamp: float) -> tuple[Path, ...]:
    stamp = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    try:
        # The private key's mode is tightened before the move, so its backup
        # is never readable by others, even for an instant. A symbolic link's
        # target gets the mode, and a link to a missing file is moved as it is.
        if files.private_key.exists():
            files.private_key.chmod(0o600)
        for path in (files.private_key, files.public_key, files.public_jwk):
            if path.is_symlink() or path.exists():
                moved.append(_move_aside(path, stamp))
    except OSError as error:
        raise WorkspaceError(
            "Cannot back up the existing key files",
            value=str(error.filename or files.private_key),
            cause=error.strerror or type(error).__name__,
            fix="check that the folder is writable, or move the key files aside "
            "yourself",
            case="key_backup_failed",
        ) from None
    return tuple(moved)


def _move_aside(path: Path, stamp: str) -> Path:
    """Move ``path`` to ``<stem>.<stamp>[-N]<suffix>.bak`` without overwriting.

    A symbolic link moves as a link: its target stays where it is.
    """
    for attempt in range(100):
        tag = stamp if attempt == 0 else f"{stamp}-{attempt}"
        backup = path.with_name(f"{path.stem}.{tag}{path.suffix}.bak")
        try:
            if path.is_symlink():
                backup.symlink_to(os.readlink(path))
            else:
                os.link(path, backup)
        except FileExistsError:
            continue
        path.unlink()
        logger.info("Moved %s to %s", path, backup)
        return backup
    raise WorkspaceError(
        "No free backup name",
        value=str(path),
        cause=f"100 backups stamped {stamp} already exist",
        fix="remove old .bak files from the folder",
        case="no_backup_name",
    )

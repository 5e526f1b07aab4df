"""Private key loading from a file, PEM text, bytes or ``$QLIK_PRIVATE_KEY``.

A key loads in PKCS#1 (``BEGIN RSA PRIVATE KEY``), PKCS#8 (``BEGIN PRIVATE
KEY``, encrypted or not) or SEC1 (``BEGIN EC PRIVATE KEY``) form, or as DER,
so keys made by ``openssl genrsa`` and ``openssl ecparam -genkey`` load as
they are. A certificate, CSR, public key, EC parameters or OpenSSH key
raises `PrivateKeyError` naming what was given instead.

Error messages describe a key by its source (a path or "PEM text (1704
characters)") and its type and size, never by its bytes or PEM lines.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, NoReturn

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .errors import PrivateKeyError
from .jwk import describe_key

__all__ = [
    "PRIVATE_KEY_ENV",
    "PRIVATE_KEY_FILE",
    "KeySource",
    "PrivateKey",
    "load_private_key",
]

logger = logging.getLogger(__name__)

PRIVATE_KEY_ENV = "QLIK_PRIVATE_KEY"
MAX_KEY_FILE_BYTES = 1024 * 1024
PRIVATE_KEY_FILE = "private_key.pem"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
KeySource = str | bytes | os.PathLike[str]

_BEGIN_LINE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_PRIVATE_LABELS = frozenset(
    {
        b"PRIVATE KEY",
        b"ENCRYPTED PRIVATE KEY",
        b"RSA PRIVATE KEY",
        b"EC PRIVATE KEY",
        b"DSA PRIVATE KEY",
    }
)
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=_-]{64,}")
_KEYGEN_FIX = "generate a key pair with: qlik-tutorial keygen --alg RS256"
_PEM_FIX = (
    "pass the private key file (private_key.pem) or its whole PEM text, "
    "BEGIN and END lines included"
)


def load_private_key(
    source: KeySource | None = None, *, password: str | bytes | None = None
) -> PrivateKey:
    """Load an RSA or EC private key from a path, PEM text or ``$QLIK_PRIVATE_KEY``.

    A ``str`` containing ``-----BEGIN`` and any ``bytes`` are key data. Any
    other ``str`` or path-like is a file path (``~`` expands). ``None`` reads
    ``$QLIK_PRIVATE_KEY``: PEM text (one line with ``\\n`` escapes works too)
    or the path of an existing key file. Messages never show the variable's
    text. An empty ``str`` raises `PrivateKeyError`. An encrypted key needs
    ``password``, and a password given for an unencrypted key is ignored with
    a warning. A key that is neither RSA nor EC raises `PrivateKeyError`.
    Whether the key fits an alg is checked by `check_key_for_alg`.
    """
    data, description = _read_source(source)
    secret = password.encode("utf-8") if isinstance(password, str) else password
    key = _parse_private_key(data, description, secret or None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise PrivateKeyError(
            "Key type is not supported",
            value=description,
            cause=f"it contains an {describe_key(key)}, but Qlik Cloud accepts "
            "RSA keys (RS256, RS512) and EC P-384 keys (ES384)",
            fix=_KEYGEN_FIX,
            case="unsupported_key_type",
        )
    logger.debug("Loaded an %s from %s", describe_key(key), description)
    return key


def _read_source(source: KeySource | None) -> tuple[bytes, str]:
    """Return the key data and a description of where it came from."""
    if source is None:
        text = os.environ.get(PRIVATE_KEY_ENV, "")
        if not text.strip():
            raise PrivateKeyError(
                "No private key given",
                cause=f"no key source was passed and ${PRIVATE_KEY_ENV} is not set",
                fix=f"pass a key file path or PEM text, or set ${PRIVATE_KEY_ENV} to "
                "the key's PEM text",
                case="no_key_source",
            )
        # A path in the variable is read too, as the command line does.
        if "-----BEGIN" not in text and _is_existing_path(text.strip()):
            return _read_file(Path(text.strip()).expanduser())
        return _pem_text_bytes(text), f"${PRIVATE_KEY_ENV} ({len(text)} characters)"
    if isinstance(source, bytes):
        return source, f"key data ({len(source)} bytes)"
    if not isinstance(source, str | os.PathLike):
        raise PrivateKeyError(
            "Private key source is not a path or PEM text",
            value=type(source).__name__,
            cause="a key loads from a file path, PEM text or PEM bytes",
            fix=_PEM_FIX,
            case="key_source_type",
        )
    if isinstance(source, str) and not source.strip():
        raise PrivateKeyError(
            "Private key source is empty",
            value=source,
            cause="an empty string names no file and holds no PEM text",
            fix=_PEM_FIX,
            case="key_source_empty",
        )
    if isinstance(source, str):
        if "-----BEGIN" in source:
            return _pem_text_bytes(source), f"PEM text ({len(source)} characters)"
        if source.strip() == "-":
            raise PrivateKeyError(
                "Standard input is not a key source here",
                value=source,
                cause="load_private_key reads files and PEM text, not stdin",
                fix="read standard input yourself and pass the PEM text",
                case="key_source_stdin",
            )
        if _is_existing_path(source):
            return _read_file(Path(source).expanduser())
        if "\n" in source or len(source) > 1024 or _BASE64_TEXT.fullmatch(source):
            # Never echo such text: it may be a key's base64 body without
            # its BEGIN and END lines.
            raise PrivateKeyError(
                "Text is neither a file path nor a PEM private key",
                value=f"text of {len(source)} characters",
                cause="it has no PEM BEGIN line, and no file of that name exists",
                fix=_PEM_FIX,
                case="not_path_or_pem",
            )
        return _read_file(Path(source).expanduser())
    return _read_file(Path(os.fspath(source)).expanduser())


def _is_existing_path(text: str) -> bool:
    if "\n" in text or len(text) > 1024:
        return False
    try:
        return Path(text).expanduser().exists()
    except (OSError, ValueError):
        return False


def _pem_text_bytes(text: str) -> bytes:
    # CI secrets and .env files often store a PEM on one line with literal
    # "\n" escapes, but a PEM parser needs real line breaks.
    if "\n" not in text.strip() and "\\n" in text:
        text = text.replace("\\r\\n", "\n").replace("\\n", "\n")
    return text.encode("utf-8")


def _read_file(path: Path) -> tuple[bytes, str]:
    path_text = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise PrivateKeyError(
            "Private key file not found",
            value=path_text,
            cause="no file exists at this path",
            fix=f"check the path, or {_KEYGEN_FIX}",
            case="key_file_not_found",
        ) from None
    except IsADirectoryError:
        raise PrivateKeyError(
            "Private key path is a directory",
            value=path_text,
            cause="a key is a file",
            fix=f"pass the key file inside it, such as {PRIVATE_KEY_FILE}",
            case="key_path_is_folder",
        ) from None
    except PermissionError:
        raise PrivateKeyError(
            "Private key file is not readable",
            value=path_text,
            cause="permission denied",
            fix="run as the file's owner, and keep key files at mode 0600",
            case="key_file_unreadable",
        ) from None
    except (OSError, ValueError) as error:
        # ValueError: a NUL character in the path.
        cause = getattr(error, "strerror", None) or str(error)
        raise PrivateKeyError(
            "Private key file cannot be read",
            value=path_text,
            cause=cause,
            fix="check the path and the disk",
            case="key_file_read_failed",
        ) from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise PrivateKeyError(
            "File is too large to be a private key",
            value=path_text,
            cause=f"it is over {MAX_KEY_FILE_BYTES} bytes, and a PEM key is a few KB",
            fix=_PEM_FIX,
            case="key_file_too_large",
        )
    if not data.strip():
        raise PrivateKeyError(
            "Private key file is empty",
            value=path_text,
            cause="the file has no content, perhaps from an interrupted copy",
            fix=f"copy the key again, or {_KEYGEN_FIX}",
            case="key_file_empty",
        )
    return data, path_text


def _parse_private_key(data: bytes, description: str, password: bytes | None) -> Any:
    labels = list(_BEGIN_LINE.finditer(data))
    if not labels:
        return _parse_unmarked(data, description, password)
    private = [match for match in labels if match.group(1) in _PRIVATE_LABELS]
    if not private:
        _raise_for_other_pem(labels[0].group(1).decode("ascii"), description)
    begin = private[0]
    label = begin.group(1)
    end_line = b"-----END " + label + b"-----"
    stop = data.find(end_line, begin.end())
    if stop < 0:
        raise PrivateKeyError(
            "Private key PEM is truncated",
            value=description,
            cause=f"the PEM block {label.decode()} has a BEGIN line but no END "
            "line, so part of the key is missing",
            fix="copy the whole key again, up to and including the END line",
            case="pem_truncated",
        )
    block = data[begin.start() : stop + len(end_line)] + b"\n"
    # PKCS#8 marks encryption in the label, PKCS#1 and SEC1 in a header line.
    encrypted = label == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in block
    return _deserialize(block, description, password, encrypted=encrypted, pem=True)


def _parse_unmarked(data: bytes, description: str, password: bytes | None) -> Any:
    if data.lstrip()[:1] == b"{":
        raise PrivateKeyError(
            "A JSON document was given where a PEM private key is expected",
            value=description,
            cause="the kit loads private keys from PEM, while a JWK describes a key in "
            "JSON and, for signing, would have to contain the private members",
            fix=_PEM_FIX,
            case="json_given",
        )
    if data[:1] == b"\x30":
        # A binary ASN.1 SEQUENCE: try DER, as `openssl ... -outform DER` writes.
        return _deserialize(data, description, password, encrypted=None, pem=False)
    raise PrivateKeyError(
        "Not a PEM private key",
        value=description,
        cause="no PEM BEGIN line for a PRIVATE KEY block was found",
        fix=_PEM_FIX,
        case="not_pem",
    )


def _raise_for_other_pem(label: str, description: str) -> NoReturn:
    if "CERTIFICATE REQUEST" in label:
        symptom = "A certificate signing request was given where the private key "
        symptom += "is expected"
        cause = "a CSR contains only the public key"
        case = "csr_given"
    elif "CERTIFICATE" in label:
        symptom = "A certificate was given where the private key is expected"
        cause = "a certificate contains only the public key"
        case = "certificate_given"
    elif "PUBLIC KEY" in label:
        symptom = "A public key was given where the private key is expected"
        cause = "signing needs the private key, because a public key only verifies"
        case = "public_key_given"
    elif label == "EC PARAMETERS":
        raise PrivateKeyError(
            "PEM contains EC parameters but no key",
            value=description,
            cause="openssl ecparam without -genkey writes only the curve",
            fix="generate the key with: openssl ecparam -name secp384r1 -genkey "
            "-noout -out private_key.pem",
            case="ec_parameters_only",
        )
    elif label == "OPENSSH PRIVATE KEY":
        raise PrivateKeyError(
            "OpenSSH private keys are not supported",
            value=description,
            cause="the kit loads PEM keys in PKCS#1, PKCS#8 or SEC1 form",
            fix="convert a copy with: ssh-keygen -p -m PKCS8 -f COPY_OF_KEY, "
            f"or {_KEYGEN_FIX}",
            case="openssh_key",
        )
    else:
        symptom = f"PEM block {label} is not a private key"
        cause = "the kit loads PRIVATE KEY, RSA PRIVATE KEY and EC PRIVATE KEY blocks"
        case = "pem_not_private_key"
    raise PrivateKeyError(
        symptom,
        value=description,
        cause=f"{cause} (the PEM block is {label})",
        fix=_PEM_FIX,
        case=case,
    )


def _deserialize(
    data: bytes,
    description: str,
    password: bytes | None,
    *,
    encrypted: bool | None,
    pem: bool,
) -> Any:
    """Deserialize with cryptography and turn its exceptions into PrivateKeyError.

    ``encrypted`` is None when the container format does not show it.
    """
    loader = (
        serialization.load_pem_private_key
        if pem
        else serialization.load_der_private_key
    )
    if encrypted is False and password is not None:
        logger.warning("Ignoring the password: %s is not encrypted", description)
        password = None
    try:
        return loader(data, password)
    except TypeError:
        # cryptography raises TypeError when the password and the
        # encryption do not match: one is present and the other is not.
        if password is None:
            raise PrivateKeyError(
                "Private key is encrypted and no password was given",
                value=description,
                cause="the key is protected by a password",
                fix="pass its password (password=...), or decrypt a copy with: "
                "openssl pkey -in KEY -out private_key.pem",
                case="encrypted_no_password",
            ) from None
        logger.warning("Ignoring the password: %s is not encrypted", description)
        return _deserialize(data, description, None, encrypted=False, pem=pem)
    except UnsupportedAlgorithm:
        raise PrivateKeyError(
            "Private key uses an unsupported type or encryption",
            value=description,
            cause="cryptography cannot read this key's type or cipher",
            fix=_KEYGEN_FIX,
            case="unsupported_key_encoding",
        ) from None
    except ValueError:
        if password is not None and encrypted is not False:
            raise PrivateKeyError(
                "Wrong password for the encrypted private key",
                value=description,
                cause="decryption failed, so the password does not match (or the "
                "file is damaged)",
                fix="pass the password the key was encrypted with",
                case="wrong_password",
            ) from None
        raise PrivateKeyError(
            "Private key cannot be parsed",
            value=description,
            cause="the data between the BEGIN and END lines is damaged or incomplete"
            if pem
            else "the binary data is not a DER private key",
            fix=_PEM_FIX,
            case="key_damaged",
        ) from None

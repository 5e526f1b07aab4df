"""The exception tree: message layout and the troubleshooting case an error carries."""

from __future__ import annotations

from qlik_tutorial.errors import (
    ConfigurationError,
    PrivateKeyError,
    QlikTutorialError,
    TokenRequestError,
)


def test_message_parts() -> None:
    error = QlikTutorialError("Key failed", value="k.pem", cause="damaged", fix="redo")
    assert str(error) == "Key failed: 'k.pem'. Cause: damaged. Fix: redo"


def test_message_symptom_only() -> None:
    assert str(QlikTutorialError("Key failed")) == "Key failed"


def test_case_defaults_to_none() -> None:
    assert ConfigurationError("Bad input").case is None


def test_case_keyword_kept() -> None:
    error = PrivateKeyError("RSA key is too small", case="key_too_small")
    assert error.case == "key_too_small"


def test_case_not_in_message() -> None:
    error = PrivateKeyError("RSA key is too small", value=1024, case="key_too_small")
    assert "key_too_small" not in str(error)


def test_server_error_keeps_case() -> None:
    error = TokenRequestError(
        "Token request failed",
        status=401,
        url="https://acme.eu.qlikcloud.com/oauth/token",
        case="invalid_client",
    )
    assert error.case == "invalid_client"


def test_server_error_keeps_status() -> None:
    error = TokenRequestError(
        "Token request failed",
        status=401,
        url="https://acme.eu.qlikcloud.com/oauth/token",
        case="invalid_client",
    )
    assert error.status == 401

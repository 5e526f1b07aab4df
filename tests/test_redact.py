"""Masking tokens and redacting secrets from text."""

from __future__ import annotations

from qlik_tutorial.redact import mask_token, redact_secrets, safe_excerpt

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----"


def test_mask_long_token() -> None:
    token = "a" * 10 + "b" * 90
    assert mask_token(token) == "aaaaaaaaaa…(100 chars)"


def test_mask_short_token() -> None:
    assert mask_token("abcdefghijkl") == "abc…(12 chars)"


def test_mask_empty_token() -> None:
    assert mask_token("") == "…(0 chars)"


def test_redact_jwt() -> None:
    assert redact_secrets(f"got {JWT}.") == "got [JWT redacted]."


def test_redact_jwe() -> None:
    jwe = "eyJhbGciOiJkaXIifQ..aXY.Y2lwaGVy.dGFn"
    assert redact_secrets(f"[{jwe}]") == "[[JWT redacted]]"


def test_redact_unsigned_jwt() -> None:
    assert redact_secrets("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.") == "[JWT redacted]"


def test_redact_pem_block() -> None:
    assert redact_secrets(f"key:\n{PEM}\nend") == "key:\n[PEM block redacted]\nend"


def test_redact_truncated_pem() -> None:
    text = "key: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB"
    assert redact_secrets(text) == "key: [PEM block redacted]"


def test_redact_bearer() -> None:
    text = "Authorization: Bearer opaque-token-123456"
    assert redact_secrets(text) == "Authorization: Bearer [token redacted]"


def test_redact_json_member() -> None:
    text = '{"access_token": "opaque-123456", "token_type": "Bearer"}'
    expected = '{"access_token": "[redacted]", "token_type": "Bearer"}'
    assert redact_secrets(text) == expected


def test_redact_form_member() -> None:
    text = "grant_type=client_credentials&client_assertion=abc.def.ghi&scope=x"
    expected = "grant_type=client_credentials&client_assertion=[redacted]&scope=x"
    assert redact_secrets(text) == expected


def test_redact_keeps_plain_text() -> None:
    text = "Invalid client_id: 3f9c2b7e (traceId 0123456789abcdef)"
    assert redact_secrets(text) == text


def test_excerpt_strips_html() -> None:
    page = "<html><head><script>var a=1;</script></head><body><h1>Not\n Found</h1>"
    assert safe_excerpt(page) == "Not Found"


def test_excerpt_truncates() -> None:
    excerpt = safe_excerpt("word " * 100, limit=20)
    assert excerpt == "word word word word…"


def test_excerpt_redacts() -> None:
    assert safe_excerpt(f"<p>{JWT}</p>") == "[JWT redacted]"


def test_redact_member_holding_jwt() -> None:
    text = f"access_token={JWT}&expires_in=60"
    assert redact_secrets(text) == "access_token=[redacted]&expires_in=60"


def test_redact_quoted_value_with_spaces() -> None:
    text = '{"password": "correct horse battery staple", "user": "u"}'
    assert redact_secrets(text) == '{"password": "[redacted]", "user": "u"}'

"""Display helpers for the step notebooks: plain text first, widgets on request.

Every helper prints plain text, so a headless run shows what a learner sees.
With ``interactive=True`` the public JWK gets a copy button and the
registration checklist is shown as check boxes in place of its text lines. No
helper waits for a click, because a kernel run by papermill has no front end
to send one. Nothing shown here contains a
private key, a client assertion or a full access token.

`show_errors_briefly` makes IPython show the kit's errors as labelled lines
(symptom, value, cause, fix) in place of a traceback.
"""

from __future__ import annotations

import html
import json
import os
import stat
import textwrap
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import requests

from .assertion import ASSERTION_TYPE, decode_assertion, format_duration
from .errors import QlikTutorialError, ServerError
from .key_loading import PRIVATE_KEY_ENV
from .keys import SigningKey
from .redact import mask_token
from .tenant import token_endpoint
from .token_endpoint import AccessToken
from .workspace import ClientConfig, Workspace

# The step summary that `make run` prints is displayed under this media type,
# which JupyterLab does not render, so learners see its text/plain form.
SUMMARY_MIMETYPE = "application/vnd.qlik-tutorial.summary+json"

Clock = Callable[[], float]


def relative_time(seconds: float) -> str:
    """Return a time offset as "in 4 min 59 s" or "12 s ago"."""
    text = format_duration(seconds)
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def format_utc(epoch: float) -> str:
    """Return Unix seconds as a UTC date and time."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def expiry_text(token: AccessToken, now: float) -> str:
    """Return when the token expires, relative to ``now`` and in UTC."""
    return f"{relative_time(token.expires_at - now)} ({format_utc(token.expires_at)})"


def _display(*objects: Any, raw: bool = False) -> None:
    from IPython.display import display

    display(*objects, raw=raw)  # type: ignore[no-untyped-call]


def _table(rows: list[tuple[str, str, str]], headings: tuple[str, str, str]) -> str:
    widths = [max(len(row[i]) for row in [headings, *rows]) for i in range(2)]
    lines = []
    for first, second, third in [headings, *rows]:
        lines.append(f"{first:<{widths[0]}}  {second:<{widths[1]}}  {third}".rstrip())
    return "\n".join(lines)


JWK_MEMBERS = {
    "kty": "key type: RSA for RS256/RS512, EC for ES384",
    "n": "RSA modulus, base64url of its big-endian bytes, no padding",
    "e": "RSA public exponent (AQAB is 65537)",
    "crv": "elliptic curve: P-384 for ES384",
    "x": "x coordinate of the public EC point (48 bytes, base64url)",
    "y": "y coordinate of the public EC point (48 bytes, base64url)",
    "alg": "the only alg this key signs with; assertion headers must match it",
    "use": "sig: the key verifies signatures (the console accepts only sig)",
    "kid": "key ID, the RFC 7638 thumbprint; assertion headers name it",
}


def _short(value: object, limit: int = 44) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else f"{text[: limit - 13]}…({len(text)} chars)"


def jwk_json_text(jwk: Mapping[str, Any]) -> str:
    """Return the public JWK as indented JSON, as it is pasted into the console."""
    return json.dumps(dict(jwk), indent=2)


def jwk_members_text(jwk: Mapping[str, Any]) -> str:
    """Return a table of the JWK's members with what each one means."""
    rows = [(name, _short(jwk[name]), JWK_MEMBERS.get(name, "")) for name in jwk]
    return _table(rows, ("member", "value", "meaning"))


def jwk_text(jwk: Mapping[str, Any]) -> str:
    """Return the public JWK as JSON followed by a table of its members."""
    return jwk_json_text(jwk) + "\n\n" + jwk_members_text(jwk)


def jwk_copy_widget(jwk: Mapping[str, Any]) -> Any:
    """Return a button widget that copies the public JWK's JSON to the clipboard."""
    import ipywidgets as widgets

    # The browser copies the text itself, so the kernel never waits on the click.
    return widgets.HTML(
        '<button class="jupyter-button" data-jwk="'
        + html.escape(jwk_json_text(jwk), quote=True)
        + '" onclick="navigator.clipboard.writeText(this.dataset.jwk)'
        ".then(() => { this.textContent = 'Copied'; })\">Copy the public JWK</button>"
    )


def show_jwk(jwk: Mapping[str, Any], *, interactive: bool = False) -> None:
    """Show the public JWK and what each member means.

    With ``interactive`` a copy button follows the JSON, so the JSON is shown
    once and the button copies exactly what is shown.
    """
    if not interactive:
        print(jwk_text(jwk))
        return
    print(jwk_json_text(jwk))
    _display(jwk_copy_widget(jwk))
    print(jwk_members_text(jwk))


def key_files_text(space: Workspace) -> str:
    """Return the workspace's key files with their modes and what each holds."""
    rows = []
    for path, holds in (
        (space.private_key, "private key: signs assertions, never leaves"),
        (space.public_key, "public key (PEM)"),
        (space.public_jwk, "public JWK: the console's Public key field"),
    ):
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
        shown = f"{mode:04o}" if mode is not None else "missing"
        rows.append((str(path), shown, holds))
    return _table(rows, ("file", "mode", "holds"))


def show_key_files(space: Workspace) -> None:
    """Show where the key files live and their modes."""
    print(key_files_text(space))


def openssl_text(key: SigningKey) -> str:
    """Return the openssl commands that make a key like ``key``."""
    if key.alg == "ES384":
        generate = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384"
    else:
        bits = key.private_key.key_size
        generate = f"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:{bits}"
    return "\n".join(
        [
            "umask 077",
            f"{generate} -out private_key.pem",
            "openssl pkey -in private_key.pem -pubout -out public_key.pem",
            "openssl pkey -in private_key.pem -noout -text | head -n 1",
        ]
    )


def show_openssl(key: SigningKey) -> None:
    """Show the equivalent openssl commands for the key's alg."""
    print(openssl_text(key))


CHECKLIST = (
    ("Check the public JWK: kty, kid, alg, use=sig, no private member", ""),
    ("Open the Administration activity center > OAuth", ""),
    ("Click Create new, client type Web", 'appType: "web"'),
    ("Enter a name", "clientName"),
    (
        "Authentication method: Private Key JWT",
        'allowedAuthMethods: ["private_key_jwt"]',
    ),
    ("Paste the public JWK into the Public key field", "publicKeys: [JWK]"),
    (
        "Allow the machine-to-machine (client credentials) grant",
        'allowedGrantTypes: ["client_credentials"]',
    ),
    ("Click Create", "POST /api/v1/oauth-clients"),
    (
        "Action menu > Change consent method > Trusted",
        'connectionConfig.consentMethod: "trusted"',
    ),
    ("Copy the Client ID and pass it as client_id", "the answer's clientId"),
)


def _checklist_labels(*, number_width: int, gap: str) -> list[str]:
    labels = []
    for number, (step, field) in enumerate(CHECKLIST, 1):
        suffix = f"{gap}({field})" if field else ""
        labels.append(f"{number:>{number_width}}. {step}{suffix}")
    return labels


def checklist_text(*, done: bool = False) -> str:
    """Return the registration checklist, every box ticked when ``done``.

    Each step names, in brackets, the API field that sets the same thing.
    """
    box = "[x]" if done else "[ ]"
    labels = _checklist_labels(number_width=2, gap="   ")
    return "\n".join(f"{box} {label}" for label in labels)


def checklist_widget(*, done: bool = False) -> Any:
    """Return the checklist as checkboxes labelled like its text lines.

    Ticking a box only helps the reader keep track; nothing reads the boxes.
    """
    import ipywidgets as widgets

    rows = []
    for label in _checklist_labels(number_width=1, gap=" "):
        # A Checkbox's own description never wraps and is cut off with an
        # ellipsis in a narrow output area, so the label is an HTML widget.
        box = widgets.Checkbox(
            value=done,
            indent=False,
            layout=widgets.Layout(width="2em", flex="0 0 auto"),
        )
        text = widgets.HTML(value=html.escape(label))
        rows.append(widgets.HBox([box, text]))
    return widgets.VBox(rows)


def show_checklist(*, done: bool = False, interactive: bool = False) -> None:
    """Show the console checklist: as checkboxes when interactive, else as text."""
    if interactive:
        _display(checklist_widget(done=done))
    else:
        print(checklist_text(done=done))


HEADER_MEMBERS = {
    "alg": "signature algorithm; must be the registered key's alg",
    "kid": "which registered public key verifies the signature",
    "typ": "media type of the token: JWT",
}
CLAIMS = {
    "iss": "issuer: the client ID",
    "sub": "subject: the client ID again, the client speaks for itself",
    "aud": "audience: exactly the token endpoint URL",
    "jti": "unique ID, new for every token request",
    "iat": "issued at, Unix seconds (UTC)",
    "exp": "expires at, Unix seconds, at most 300 s after iat",
}


def assertion_text(jwt: str, *, now: Clock = time.time) -> str:
    """Return the decoded header and claims, never the assertion itself."""
    decoded = decode_assertion(jwt, now=now)
    parts = jwt.split(".")
    lines = [
        f"Three base64url parts: header ({len(parts[0])} chars) . claims "
        f"({len(parts[1])} chars) . signature ({len(decoded.signature)} bytes)",
        "",
    ]
    header = [
        (name, _short(value), HEADER_MEMBERS.get(name, ""))
        for name, value in decoded.header.items()
    ]
    lines += [_table(header, ("header", "value", "meaning")), ""]
    claims = []
    for name, value in decoded.claims.items():
        shown = _short(value)
        if name in ("iat", "exp") and isinstance(value, int | float):
            shown = f"{value} = {format_utc(value)}, {relative_time(value - now())}"
        claims.append((name, shown, CLAIMS.get(name, "")))
    lines.append(_table(claims, ("claim", "value", "meaning")))
    return "\n".join(lines)


def show_assertion(jwt: str, *, now: Clock = time.time) -> None:
    """Show the assertion's header and claims, explained, with readable times."""
    print(assertion_text(jwt, now=now))


def curl_token_text(space: Workspace, config: ClientConfig) -> str:
    """Return the curl command for the token request, reading the JWT from disk."""
    return "\n".join(
        [
            f"curl -sS -X POST {token_endpoint(config.tenant)} \\",
            "  --data-urlencode grant_type=client_credentials \\",
            f"  --data-urlencode client_id={config.client_id} \\",
            f"  --data-urlencode client_assertion_type={ASSERTION_TYPE} \\",
            f'  --data-urlencode "client_assertion=$(cat {space.assertion})" \\',
            "  --data-urlencode scope=user_default",
        ]
    )


def show_curl_token(space: Workspace, config: ClientConfig) -> None:
    """Show the curl equivalent of the token request."""
    print(curl_token_text(space, config))


def curl_api_text(space: Workspace, config: ClientConfig) -> str:
    """Return the curl command for the users/me call, reading the token from disk."""
    return "\n".join(
        [
            f"ACCESS_TOKEN=$(jq -r .access_token {space.token_json})",
            'curl -sS --location -H "Authorization: Bearer $ACCESS_TOKEN" \\',
            f"  {config.tenant}/api/v1/users/me",
        ]
    )


def show_curl_api(space: Workspace, config: ClientConfig) -> None:
    """Show the curl equivalent of the API call."""
    print(curl_api_text(space, config))


def redirect_text(response: requests.Response) -> str:
    """Return a response's status line and its Location header, if it has one.

    A response without a reason phrase gets the standard one for its status.
    """
    reason = response.reason
    if not reason:
        try:
            reason = HTTPStatus(response.status_code).phrase
        except ValueError:
            reason = ""
    lines = [f"{response.status_code} {reason}".rstrip()]
    location = response.headers.get("Location")
    lines.append(f"Location: {location}" if location else "(no Location header)")
    return "\n".join(lines)


def show_redirect(response: requests.Response) -> None:
    """Show the status and Location of a request made without following redirects."""
    print(redirect_text(response))


def token_text(token: AccessToken, *, now: Clock = time.time) -> str:
    """Return the token response with the access token cut short."""
    shown = dict(token.response)
    if "access_token" in shown:
        shown["access_token"] = mask_token(token.access_token)
    body = json.dumps(shown, indent=2, ensure_ascii=False)
    return body + f"\n\nThe token expires {expiry_text(token, now())}."


def show_token(token: AccessToken, *, now: Clock = time.time) -> None:
    """Show the token response; the token appears only as a masked prefix."""
    print(token_text(token, now=now))


def token_issued_text(token: AccessToken, *, now: Clock = time.time) -> str:
    """Return one line saying that a token was issued, without the token."""
    return (
        f"Token issued: {token.token_type}, expires {expiry_text(token, now())}, "
        f"scope {token.scope}"
    )


def show_token_issued(token: AccessToken, *, now: Clock = time.time) -> None:
    """Show that the tenant issued ``token``: its type, expiry and scope."""
    print(token_issued_text(token, now=now))


ERROR_WIDTH = 88
_LABEL_WIDTH = 10


def _labelled(label: str, text: str) -> str:
    return textwrap.fill(
        text,
        width=ERROR_WIDTH,
        initial_indent=f"  {label + ':':<{_LABEL_WIDTH - 2}}",
        subsequent_indent=" " * _LABEL_WIDTH,
        break_long_words=False,
        break_on_hyphens=False,
    )


def error_text(error: QlikTutorialError) -> str:
    """Return a kit error as short lines: what failed, the value, cause and fix.

    A server error's value is the tenant's answer (status, code, title and
    detail), so it is labelled ``answer``.
    """
    lines = [f"{type(error).__name__}: {error.symptom}"]
    if error.value is not None:
        value = error.value if isinstance(error.value, str) else repr(error.value)
        label = "answer" if isinstance(error, ServerError) else "value"
        lines.append(_labelled(label, value))
    if error.cause:
        lines.append(_labelled("cause", error.cause))
    if error.fix:
        lines.append(_labelled("fix", error.fix))
    return "\n".join(lines)


def _brief_traceback(
    shell: Any, kind: type[BaseException], error: QlikTutorialError, *_: Any, **__: Any
) -> list[str]:
    lines = error_text(error).splitlines()
    # IPython leaves the display of a custom-handled exception to the handler.
    # _showtraceback is the hook that ipykernel overrides to send the error
    # output, so the cell still fails and raises-exception still applies.
    shell._showtraceback(kind, error, lines)
    return lines


def show_errors_briefly() -> None:
    """Show the kit's errors in this notebook as a few labelled lines.

    Each error shows its class and symptom, then the value, cause and fix, each
    wrapped on its own line, without the traceback. Other exceptions keep
    IPython's traceback. Outside IPython this does nothing.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((QlikTutorialError,), _brief_traceback)


def show_user(user: Mapping[str, Any]) -> None:
    """Show the user JSON that the API returned."""
    print(json.dumps(dict(user), indent=2, ensure_ascii=False))


def summary_bundle(line: str, **facts: Any) -> dict[str, Any]:
    """Return the display bundle of a step summary: text plus the facts as JSON.

    ``facts`` stay in the executed notebook for tests and tools, so they must
    never be secrets.
    """
    return {"text/plain": line, SUMMARY_MIMETYPE: {"line": line, **facts}}


def show_summary(line: str, **facts: Any) -> None:
    """Show what the step produced; `make run` prints ``line`` for the step."""
    _display(summary_bundle(line, **facts), raw=True)


def summarize_key(
    key: SigningKey, *, private_key: str | os.PathLike[str] | None = None
) -> None:
    """Show step 01's summary: the key's alg and kid, and whether it was supplied.

    Pass step 01's ``private_key`` parameter: a key from it or from
    ``QLIK_PRIVATE_KEY`` reads "key supplied", a generated key "key pair".
    """
    supplied = private_key is not None or bool(
        os.environ.get(PRIVATE_KEY_ENV, "").strip()
    )
    kind = "key supplied" if supplied else "key pair"
    show_summary(
        f"{key.alg} {kind}, kid {key.kid}",
        alg=key.alg,
        kid=key.kid,
        supplied=supplied,
    )


def summarize_client(config: ClientConfig) -> None:
    """Show step 02's summary: the client ID and its tenant."""
    show_summary(
        f"client ID {config.client_id} on {config.tenant}",
        client_id=config.client_id,
        tenant=config.tenant,
    )


def summarize_assertion(jwt: str, *, now: Clock = time.time) -> None:
    """Show step 03's summary: when the assertion expires, never the assertion."""
    claims = decode_assertion(jwt, now=now).claims
    expiry = float(claims["exp"])
    show_summary(
        f"assertion expires {format_utc(expiry)} ({relative_time(expiry - now())})",
        exp=claims["exp"],
        jti=claims.get("jti"),
    )


def summarize_token(token: AccessToken, *, now: Clock = time.time) -> None:
    """Show step 04's summary: the token's type, lifetime and scope."""
    lifetime = token.response.get("expires_in")
    seconds = float(lifetime) if lifetime is not None else token.expires_at - now()
    show_summary(
        f"{token.token_type} token valid for {seconds / 60:.0f} min, "
        f"scope {token.scope}",
        lifetime=seconds,
        expires_at=token.expires_at,
        scope=token.scope,
    )


def summarize_user(user: Mapping[str, Any]) -> None:
    """Show step 05's summary: the user's name and ID."""
    show_summary(
        f"user {user.get('name')!r} (id {user.get('id')})",
        name=user.get("name"),
        id=user.get("id"),
    )

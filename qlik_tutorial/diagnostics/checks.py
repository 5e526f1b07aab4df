"""The table of pre-flight checks, and the split client assertion they read.

`CHECKS` maps each check's name to its table row, symptom and fix, and
`_finding` builds a `Finding` from an entry, filling the ``{fields}`` of the
symptom and fix. `_split_assertion` splits a compact JWS into its header,
claims and signature without verifying the signature, and `_Context` collects
the findings of the checks that read them.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from ..assertion import ASSERTION_TYPE, MAX_LIFETIME
from ..jwk import base64url_decode
from ..keys import SigningKey
from ..troubleshooting import (
    ROW_ASSERTION_TYPE,
    ROW_AUDIENCE,
    ROW_CLIENT,
    ROW_SIGNATURE,
    ROW_TIMEOUT,
)
from .findings import Finding


@dataclass(frozen=True)
class Check:
    """A pre-flight check: its name, table row, symptom and fix.

    ``symptom`` and ``fix`` may hold ``{fields}`` that the finding fills in.
    """

    name: str
    row: str | None
    symptom: str
    fix: str


_REBUILD = "build the assertion with build_client_assertion(), or a JOSE library"

CHECKS: dict[str, Check] = {
    check.name: check
    for check in (
        Check("assertion_format", None, "Client assertion {part}", _REBUILD),
        Check(
            "alg_supported",
            ROW_SIGNATURE,
            "Client assertion alg is not supported",
            "{fix}",
        ),
        Check("key_fits_alg", ROW_SIGNATURE, "{symptom}", "{fix}"),
        Check(
            "alg_matches_registered",
            ROW_SIGNATURE,
            "Client assertion alg differs from the registered key's alg",
            "sign with alg {expected}, or register a key for {alg}",
        ),
        Check(
            "key_matches_registered",
            ROW_SIGNATURE,
            "Signing key is not the registered key",
            "load the private key that was registered, or register this key's "
            "public JWK (kid {kid}) with the client",
        ),
        Check(
            "kid_present",
            None,
            "Client assertion header has no kid",
            "add kid {kid} to the header: the registered key's RFC 7638 thumbprint",
        ),
        Check(
            "kid_registered",
            None,
            "Client assertion kid names no registered key",
            "sign with a registered key and put its kid ({registered}) in the "
            "header, or register the public JWK of the key you sign with",
        ),
        Check(
            "kid_matches_key",
            ROW_SIGNATURE,
            "Client assertion kid is not the signing key's kid",
            "set kid to {kid}, or sign with the key that the kid names",
        ),
        Check(
            "signature_format",
            ROW_SIGNATURE,
            "{alg} signature has the wrong form",
            "sign with build_client_assertion() or a JOSE library; a DER ECDSA "
            "signature becomes JWS form as r and s, 48 bytes each, concatenated",
        ),
        Check(
            "signature_verifies",
            ROW_SIGNATURE,
            "Client assertion signature does not verify with the signing key",
            "sign the assertion again with the registered private key and send "
            "it unchanged",
        ),
        Check(
            "claims_present",
            None,
            "Client assertion lacks required claims",
            "add {missing}; build_client_assertion() sets every claim",
        ),
        Check(
            "iss_client_id",
            ROW_CLIENT,
            "Client assertion iss is not the client ID",
            "set iss to {client_id!r}",
        ),
        Check(
            "sub_client_id",
            ROW_CLIENT,
            "Client assertion sub is not the client ID",
            "set sub to {client_id!r}, the same as iss",
        ),
        Check(
            "iss_sub_differ",
            ROW_CLIENT,
            "Client assertion iss and sub differ",
            "set both iss and sub to the client ID the console shows",
        ),
        Check(
            "aud_string",
            ROW_AUDIENCE,
            "Client assertion aud is not one string",
            "set aud to the string {expected}, not a list",
        ),
        Check(
            "aud_trailing_slash",
            ROW_AUDIENCE,
            "Client assertion aud ends with a slash",
            "set aud to {expected}, with no trailing slash",
        ),
        Check(
            "aud_double_slash",
            ROW_AUDIENCE,
            "Client assertion aud has a double slash in its path",
            "set aud to {expected}: build it with token_endpoint(tenant) instead "
            "of joining strings",
        ),
        Check(
            "aud_host",
            ROW_AUDIENCE,
            "Client assertion aud names another host than the tenant",
            "set aud to {expected}, with the tenant's full host name",
        ),
        Check(
            "aud_token_url",
            ROW_AUDIENCE,
            "Client assertion aud is not the token URL",
            "set aud to {expected}: scheme, host and the path /oauth/token exactly",
        ),
        Check(
            "claim_types",
            None,
            "Client assertion iat or exp is not a number",
            "set iat = int(time.time()) and exp = iat + 300 or less",
        ),
        Check(
            "lifetime_positive",
            None,
            "Client assertion expires before it is issued",
            f"set exp after iat, at most {MAX_LIFETIME} s after it",
        ),
        Check(
            "lifetime_too_long",
            None,
            "Client assertion lifetime is too long",
            f"set exp = iat + {MAX_LIFETIME} or less",
        ),
        Check(
            "iat_local_time",
            None,
            "Client assertion iat is off by a whole time zone",
            "take iat from int(time.time()) or datetime.now(timezone.utc), never "
            "from a naive datetime.now()",
        ),
        Check(
            "iat_future",
            None,
            "Client assertion is issued in the future",
            "set iat = int(time.time()) and keep the clock synchronised with NTP",
        ),
        Check(
            "expired",
            None,
            "Client assertion has expired",
            "sign a new assertion right before each token request",
        ),
        Check(
            "jti_present",
            None,
            "Client assertion has no jti",
            "set jti = str(uuid.uuid4()) in every assertion",
        ),
        Check(
            "jti_reused",
            None,
            "Client assertion jti was already sent",
            "sign a new assertion, with a new jti, for every token request",
        ),
        Check(
            "assertion_type",
            ROW_ASSERTION_TYPE,
            "client_assertion_type is wrong",
            f"send client_assertion_type={ASSERTION_TYPE}",
        ),
        Check(
            "form_encoded",
            None,
            "Token request body is not form-encoded",
            "send the fields as a form, such as requests.post(url, data=fields), "
            "not json=fields",
        ),
        Check(
            "client_registered",
            ROW_CLIENT,
            "Client ID is not registered on the local tenant",
            "register the workspace's public JWK with: qlik-tutorial local-tenant "
            "register --workspace {workspace} --jwk {jwk}, then use the client "
            "ID it prints",
        ),
        Check(
            "client_id",
            ROW_CLIENT,
            "Client ID is empty",
            "copy the client ID from the OAuth client's page in the console",
        ),
        Check(
            "clock_offset",
            None,
            "This machine's clock differs from the tenant's",
            "synchronise this machine's clock with NTP, such as with "
            "timedatectl set-ntp true",
        ),
        Check(
            "timeout",
            ROW_TIMEOUT,
            "Tenant did not answer in time",
            "check the network connection and test the tenant URL: curl {origin}",
        ),
        Check(
            "unreachable",
            ROW_TIMEOUT,
            "Tenant is unreachable",
            "check the tenant host and the network connection, then test the "
            "tenant URL: curl {origin}",
        ),
        Check(
            "local_tenant_stopped",
            ROW_TIMEOUT,
            "The workspace's local tenant is not running",
            "start it with: qlik-tutorial local-tenant start --workspace {workspace}",
        ),
        Check(
            "nothing_to_check",
            None,
            "No client assertion and no private key to check",
            "pass --assertion JWT, or --key KEYFILE with --tenant and "
            "--client-id, or --workspace DIR",
        ),
    )
}


def _finding(name: str, cause: str, value: object = None, **fields: Any) -> Finding:
    check = CHECKS[name]
    return Finding(
        name,
        check.row,
        check.symptom.format(**fields),
        cause,
        check.fix.format(**fields),
        value,
    )


@dataclass
class _Assertion:
    """A client assertion split into its parts, not verified."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signature: bytes
    signing_input: bytes


@dataclass
class _Context:
    """The configuration an assertion is checked against, and the findings so far."""

    key: SigningKey | None
    tenant: str | None
    client_id: str | None
    registered: dict[str, str | None]
    sent_jtis: Collection[str]
    now: float
    findings: list[Finding] = field(default_factory=list)

    def add(self, name: str, cause: str, value: object = None, **fields: Any) -> None:
        self.findings.append(_finding(name, cause, value, **fields))


def _split_assertion(jwt: str) -> _Assertion | Finding:
    """Split a compact JWS into its parts, or return the finding that explains why."""
    segments = jwt.strip().split(".")
    if len(segments) != 3:
        return _finding(
            "assertion_format",
            f"it has {len(segments)} dot-separated parts, a compact JWS has 3: "
            "header.claims.signature",
            f"{len(segments)} parts",
            part="is not a compact JWS",
        )
    objects: list[dict[str, Any]] = []
    for name, segment in zip(("header", "claims"), segments[:2], strict=True):
        try:
            parsed = json.loads(base64url_decode(segment))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            parsed = None
        if not isinstance(parsed, dict):
            return _finding(
                "assertion_format",
                f"the {name} part does not decode to a JSON object",
                name,
                part=f"{name} is not base64url-encoded JSON",
            )
        objects.append(parsed)
    try:
        signature = base64url_decode(segments[2])
    except (ValueError, binascii.Error):
        return _finding(
            "assertion_format",
            "the third part has characters outside base64url, or padding",
            "signature",
            part="signature is not base64url",
        )
    signing_input = f"{segments[0]}.{segments[1]}".encode("ascii", "replace")
    return _Assertion(objects[0], objects[1], signature, signing_input)

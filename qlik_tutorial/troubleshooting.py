"""Troubleshooting cases: what an error response means and how to fix it.

`CASES` is a plain table. The first five rows of the tutorial's
troubleshooting table appear as ``row`` values; other common faults are named
cases with ``row=None``. `case_for` picks the case an HTTP error response
matches, from its status, its error code and the words of its title and
detail, so it works with Qlik Cloud's wording as well as the local tenant's.

>>> case_for(401, "OAUTH-24", "Signature validation failed").name
'signature_invalid'
>>> case_for(400, error="unsupported_client_assertion_type").row
'unsupported_client_assertion_type'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

ROW_SIGNATURE = "Signature validation failed"
ROW_AUDIENCE = "Invalid audience"
ROW_CLIENT = "Invalid client or unauthorized_client"
ROW_ASSERTION_TYPE = "unsupported_client_assertion_type"
ROW_TIMEOUT = "Token request timeout"
ROWS = (ROW_SIGNATURE, ROW_AUDIENCE, ROW_CLIENT, ROW_ASSERTION_TYPE, ROW_TIMEOUT)

TOKEN = "token"  # noqa: S105 (an endpoint name)
API = "api"
ADMIN = "admin"
ENDPOINTS = (TOKEN, API, ADMIN)

AUDIENCE_URL = "https://<TENANT>/oauth/token"
TENANT_URL = "https://<TENANT>"


@dataclass(frozen=True)
class Case:
    """A troubleshooting case: its symptom, cause and fix.

    ``row`` is the tutorial table row the case belongs to, or None. The
    keyword-only fields define how `case_for` recognises the case in an error
    response: any of ``statuses`` (empty means any status), at one of
    ``endpoints``, with one of ``codes`` (Qlik codes or RFC 6749 ``error``
    values) or ``keywords`` (whole words, any case) in the response. A case
    with statuses but neither codes nor keywords matches on the status alone,
    as a fallback. ``narrows`` names a broader case that this one is a kind
    of, as an expired access token is a kind of invalid one. When a response
    has evidence of its own for this case, the broader case's evidence counts
    too, so the narrower case wins.
    """

    name: str
    symptom: str
    cause: str
    fix: str
    row: str | None = None
    statuses: tuple[int, ...] = field(default=(), kw_only=True, repr=False)
    endpoints: tuple[str, ...] = field(default=ENDPOINTS, kw_only=True, repr=False)
    codes: tuple[str, ...] = field(default=(), kw_only=True, repr=False)
    keywords: tuple[str, ...] = field(default=(), kw_only=True, repr=False)
    narrows: str | None = field(default=None, kw_only=True, repr=False)

    def fix_for(self, tenant: str | None) -> str:
        """Return the fix with ``https://<TENANT>`` replaced by the tenant origin."""
        if not tenant:
            return self.fix
        return self.fix.replace(TENANT_URL, tenant.rstrip("/"))


REDIRECT_STATUSES = (301, 302, 303, 307, 308)
SERVER_STATUSES = (500, 501, 502, 503, 504)

CASES: tuple[Case, ...] = (
    # The tutorial's table.
    Case(
        "signature_invalid",
        "Signature validation failed",
        "the public key registered for the client does not match the private "
        "key that signed the assertion, or the header's alg differs from the "
        "registered key's alg",
        "sign with the alg of the registered key (RS256, RS512 or ES384); if "
        "the key pair changed, register the new public JWK and sign with its "
        "private key",
        ROW_SIGNATURE,
        codes=("OAUTH-23", "OAUTH-24"),
        keywords=("signature", "invalid signature", "signature verification"),
    ),
    Case(
        "invalid_audience",
        "Invalid audience",
        "the assertion's aud claim differs from the token endpoint URL",
        f"set aud to exactly {AUDIENCE_URL}, with no trailing slash",
        ROW_AUDIENCE,
        codes=("OAUTH-27",),
        keywords=("audience", "aud"),
    ),
    Case(
        "client_disabled",
        "Client disabled",
        "the OAuth client exists but is disabled",
        "enable the OAuth client in the console (Administration > OAuth), or "
        "use the client ID of an enabled client",
        ROW_CLIENT,
        codes=("OAUTH-15",),
        keywords=("client disabled", "client is disabled"),
    ),
    Case(
        "grant_not_allowed",
        "unauthorized_client",
        "the OAuth client does not allow the client_credentials grant",
        "allow machine-to-machine (client_credentials) access for the OAuth "
        "client in the console",
        ROW_CLIENT,
        codes=("OAUTH-16", "unauthorized_client"),
        keywords=("unauthorized_client", "unauthorized client"),
    ),
    Case(
        "auth_method_not_allowed",
        "Invalid client authentication method",
        "the OAuth client does not use Private Key JWT authentication",
        "create the client with the authentication method Private Key JWT and "
        "paste the public JWK",
        ROW_CLIENT,
        codes=("OAUTH-17",),
        keywords=("authentication method", "private_key_jwt"),
    ),
    Case(
        "invalid_client",
        "Invalid client",
        "the assertion's iss or sub claim is not the client ID, or the client "
        "does not exist",
        "set both iss and sub to the client ID the console shows, and check "
        "that the OAuth client exists and is enabled",
        ROW_CLIENT,
        codes=("OAUTH-14", "OAUTH-25", "OAUTH-26", "invalid_client"),
        keywords=(
            "invalid client",
            "invalid_client",
            "client_id",
            "client id",
            "unknown client",
            "iss",
            "sub",
        ),
    ),
    Case(
        "unsupported_assertion_type",
        "unsupported_client_assertion_type",
        "the client_assertion_type form field is not the JWT bearer URN",
        "send client_assertion_type exactly "
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ROW_ASSERTION_TYPE,
        codes=("OAUTH-3", "unsupported_client_assertion_type"),
        keywords=("unsupported_client_assertion_type", "client_assertion_type"),
    ),
    Case(
        "timeout",
        "Token request timed out",
        "network issue or tenant unreachable: no response came back in time",
        f"check the network connection and test the tenant URL: curl {TENANT_URL}",
        ROW_TIMEOUT,
        endpoints=(),
    ),
    Case(
        "unreachable",
        "Tenant unreachable",
        "network issue or tenant unreachable: the connection was refused, the "
        "host is unknown or the TLS handshake failed",
        "check the tenant host and the network connection, then test the "
        f"tenant URL: curl {TENANT_URL}",
        ROW_TIMEOUT,
        endpoints=(),
    ),
    # Other common faults at the token endpoint.
    Case(
        "assertion_expired",
        "Client assertion expired",
        "the assertion's exp is in the past: it was signed too long ago or "
        "the local clock is behind",
        "sign a fresh assertion right before each token request, with iat "
        "and exp from time.time(); check that the clock is synchronised",
        endpoints=(TOKEN,),
        codes=("OAUTH-28",),
        keywords=("expired", "exp"),
    ),
    Case(
        "lifetime_too_long",
        "Client assertion lifetime too long",
        "exp is more than 300 seconds after iat, or not after it",
        "sign the assertion with exp - iat between 1 and 300 seconds",
        endpoints=(TOKEN,),
        codes=("OAUTH-29",),
        keywords=("lifetime", "too long", "too far"),
    ),
    Case(
        "issued_in_future",
        "Client assertion issued in the future",
        "the assertion's iat is later than the tenant's clock: the local "
        "clock is ahead or iat came from a naive local datetime",
        "take iat from time.time() (UTC seconds) and synchronise the clock",
        endpoints=(TOKEN,),
        codes=("OAUTH-30",),
        keywords=("future", "not yet valid", "iat"),
    ),
    Case(
        "missing_claim",
        "Client assertion misses a claim",
        "the assertion lacks one of iss, sub, aud, jti, iat, exp",
        "build the assertion with all six claims: iss = sub = client ID, "
        f"aud = {AUDIENCE_URL}, a new UUID jti, iat and exp",
        endpoints=(TOKEN,),
        codes=("OAUTH-31", "OAUTH-33"),
        keywords=("missing claim", "missing jti", "missing required claim"),
    ),
    Case(
        "jti_reused",
        "Client assertion already used",
        "an assertion with the same jti was already sent: each assertion is "
        "good for one token request",
        "sign a new assertion, with a new UUID jti, for every token request",
        endpoints=(TOKEN,),
        codes=("OAUTH-32",),
        keywords=("already used", "reused", "reuse", "replay", "replayed", "jti"),
    ),
    Case(
        "missing_kid",
        "Client assertion header has no kid",
        "the JWS header lacks kid, so the tenant cannot tell which registered "
        "key to verify with",
        "put the kid of the registered public JWK into the header",
        endpoints=(TOKEN,),
        codes=("OAUTH-21",),
        keywords=("missing kid", "no kid", "kid missing", "kid is missing"),
    ),
    Case(
        "unknown_kid",
        "Unknown kid",
        "the header's kid names no public key registered for the client",
        "use the kid of the registered public JWK (its RFC 7638 thumbprint), "
        "or register the public JWK of the key you sign with",
        endpoints=(TOKEN,),
        codes=("OAUTH-22",),
        keywords=("unknown kid", "kid", "key not found"),
    ),
    Case(
        "unsupported_alg",
        "Unsupported algorithm",
        "the header's alg is not RS256, RS512 or ES384",
        "sign with RS256, RS512 or ES384, matching the registered key",
        endpoints=(TOKEN,),
        codes=("OAUTH-20",),
        keywords=("unsupported algorithm", "unsupported alg", "algorithm"),
    ),
    Case(
        "invalid_assertion",
        "Invalid client assertion",
        "the client_assertion is not a well-formed signed JWT",
        "send the compact JWS as built by the kit: three base64url parts "
        "joined by dots, with no quotes or white space",
        endpoints=(TOKEN,),
        codes=("OAUTH-4",),
        keywords=("invalid client assertion", "malformed", "invalid_grant"),
    ),
    Case(
        "invalid_scope",
        "Invalid scope",
        "the requested scope is not allowed for the client",
        "request scope user_default, or allow the scope for the OAuth client",
        endpoints=(TOKEN,),
        codes=("OAUTH-5", "invalid_scope"),
        keywords=("invalid scope", "invalid_scope", "scope"),
    ),
    Case(
        "unsupported_grant_type",
        "Unsupported grant type",
        "grant_type is not client_credentials",
        "send grant_type=client_credentials",
        endpoints=(TOKEN,),
        codes=("OAUTH-2", "unsupported_grant_type"),
        keywords=("unsupported_grant_type", "unsupported grant type"),
    ),
    Case(
        "invalid_request",
        "Invalid token request",
        "a form field is missing or repeated, or the body is not form-encoded",
        "send grant_type, client_id, client_assertion_type, client_assertion "
        "and scope once each, form-encoded",
        endpoints=(TOKEN,),
        codes=("OAUTH-1", "invalid_request"),
        keywords=("invalid request", "invalid_request"),
    ),
    Case(
        "rate_limited",
        "Rate limited",
        "too many requests in the last minute; the token endpoint allows 100 "
        "token requests a minute",
        "wait for the Retry-After time, and reuse an access token until it "
        "expires instead of requesting one per call",
        statuses=(429,),
    ),
    # REST API responses.
    Case(
        "access_token_expired",
        "Access token expired",
        "the access token's lifetime is over",
        "request a new access token with a freshly signed assertion",
        statuses=(401,),
        endpoints=(API,),
        codes=("AUTH-3",),
        keywords=("expired",),
        # RFC 6750 section 3.1: invalid_token covers expired tokens too.
        narrows="access_token_invalid",
    ),
    Case(
        "access_token_invalid",
        "Invalid access token",
        "the tenant does not know the access token: it was cut, belongs to "
        "another tenant or was revoked",
        "request a new access token (notebook 04_exchange_token, or "
        "`qlik-tutorial token`) and send the whole access_token value from that "
        "tenant's token response",
        statuses=(401,),
        endpoints=(API,),
        codes=("AUTH-2", "invalid_token"),
        keywords=("invalid access token", "invalid token", "invalid_token"),
    ),
    Case(
        "authorization_missing",
        "Not authorized",
        "the request had no valid Authorization header; a redirect to another "
        "origin drops the header",
        "send the header Authorization: Bearer <access token> to the tenant's "
        "own origin",
        statuses=(401,),
        endpoints=(API,),
        codes=("AUTH-1",),
        keywords=("not authorized", "authorization"),
    ),
    Case(
        "api_unauthorized",
        "Request not authorized",
        "the tenant rejected the access token",
        "request a new access token and send it as Authorization: Bearer "
        "<access token>",
        statuses=(401,),
        endpoints=(API,),
    ),
    Case(
        "api_forbidden",
        "Access denied",
        "the access token is valid but its scope or user's roles do not allow "
        "this request",
        "allow the needed scope for the OAuth client and give its user the needed role",
        statuses=(403,),
        endpoints=(API,),
    ),
    Case(
        "api_not_found",
        "API path not found",
        "the tenant has no resource at this path",
        "check the path against the REST API reference, for example /api/v1/users/me",
        statuses=(404,),
        endpoints=(API,),
    ),
    Case(
        "too_many_redirects",
        "Too many redirects",
        "the API kept redirecting",
        "call the final URL directly and check the tenant host",
        endpoints=(),
    ),
    # Local tenant admin API.
    Case(
        "admin_key_invalid",
        "Invalid admin key",
        "the admin API key is missing or wrong",
        "send the admin key stored in the workspace's local-tenant folder",
        endpoints=(ADMIN,),
        codes=("AUTH-10",),
        keywords=("admin key",),
    ),
    Case(
        "public_key_invalid",
        "Invalid public key",
        "the JWK is not a usable public key",
        "paste the public JWK the kit wrote (public_jwk.json), not the private key",
        endpoints=(ADMIN,),
        codes=("OAUTH-40",),
        keywords=("invalid public key", "jwk"),
    ),
    # Fallbacks by status.
    Case(
        "token_forbidden",
        "Token request forbidden",
        "the client's user is disabled, or the client holds too many tokens",
        "enable the client's user, or reuse access tokens until they expire",
        statuses=(403,),
        endpoints=(TOKEN,),
    ),
    Case(
        "token_unauthorized",
        "Client authentication failed",
        "the tenant rejected the client credentials without a known reason",
        "check the rows of the troubleshooting table: signature, audience, "
        "client ID, assertion type",
        statuses=(401,),
        endpoints=(TOKEN,),
    ),
    Case(
        "token_bad_request",
        "Token request rejected",
        "the tenant rejected the token request as malformed",
        "send the five form fields the token endpoint expects, form-encoded",
        statuses=(400,),
        endpoints=(TOKEN,),
    ),
    Case(
        "token_not_found",
        "Token endpoint not found",
        "the host serves no /oauth/token, so it is probably not a Qlik Cloud tenant",
        "use the tenant host exactly as the console shows it, for example "
        "acme.eu.qlikcloud.com",
        statuses=(404, 405),
        endpoints=(TOKEN,),
    ),
    Case(
        "token_redirected",
        "Token endpoint redirected",
        "the token endpoint responded with a redirect, so the tenant address is "
        "probably not the tenant's own host",
        "use the tenant host exactly as the console shows it, for example "
        "acme.eu.qlikcloud.com",
        statuses=REDIRECT_STATUSES,
        endpoints=(TOKEN,),
    ),
    Case(
        "gateway_timeout",
        "Gateway timeout",
        "a proxy or gateway between this machine and the tenant got no answer "
        "from the tenant in time",
        "retry in a minute; if it persists, check the network connection and "
        f"test the tenant URL: curl {TENANT_URL}",
        ROW_TIMEOUT,
        statuses=(408, 504),
    ),
    Case(
        "server_error",
        "Tenant error",
        "the tenant failed to handle the request",
        "retry in a minute; if it persists, report the traceId to Qlik support",
        statuses=SERVER_STATUSES,
    ),
    Case(
        "http_error",
        "Unexpected HTTP status",
        "the tenant responded with a status the kit does not expect",
        "check the tenant URL and the request; the status and excerpt tell more",
    ),
)

_BY_NAME = {case.name: case for case in CASES}

# Weights of where a code or keyword is found: the title (or an RFC 6749
# error_description) names the fault, the code classifies it, and the
# detail's words are the weakest hint because details also explain fixes.
HEADLINE_WEIGHT = 4
CODE_WEIGHT = 2
DETAIL_WEIGHT = 1
# A keyword of several words ("too far", "invalid token") counts this many
# times a single word, because single words such as exp, iat or future also
# turn up in the wording of other faults.
PHRASE_FACTOR = 2


def case_named(name: str) -> Case:
    """Return the case called ``name``; raise KeyError for an unknown name."""
    return _BY_NAME[name]


def case_for(
    status: int,
    code: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    error: str | None = None,
    *,
    endpoint: str = TOKEN,
) -> Case:
    """Return the case an HTTP error response matches.

    ``code``, ``title`` and ``detail`` come from Qlik's ``{"errors": [...]}``
    body; ``error`` is RFC 6749's ``error`` and ``detail`` then carries its
    ``error_description``. ``endpoint`` is ``"token"``, ``"api"`` or
    ``"admin"``. The case with the strongest evidence wins: a code, the
    headline's words and the detail's words add up, a matching phrase counts
    more than a single word, and a case that narrows another adds the other's
    evidence. Ties go to the earlier row of `CASES`, and a response with no
    known words falls back to a case for its status.
    """
    if status == 429:
        return _BY_NAME["rate_limited"]
    # An RFC 6749 body has no title, so its error_description is the headline.
    headline, detail_text = title, detail
    if not title and error:
        headline, detail_text = detail, None
    response_codes = {text.lower() for text in (code, error) if text}

    scores: dict[str, int] = {}
    fallback: Case | None = None
    for case in CASES:
        if endpoint not in case.endpoints:
            continue
        if case.statuses and status not in case.statuses:
            continue
        if not case.codes and not case.keywords:
            if case.statuses and fallback is None:
                fallback = case
            continue
        scores[case.name] = _score(case, response_codes, headline, detail_text)

    best: Case | None = None
    best_score = 0
    for name, own_score in scores.items():
        case = _BY_NAME[name]
        score = own_score
        if own_score and case.narrows:
            score += scores.get(case.narrows, 0)
        if score > best_score:
            best, best_score = case, score
    return best or fallback or _BY_NAME["http_error"]


def _score(
    case: Case,
    response_codes: set[str],
    headline: str | None,
    detail: str | None,
) -> int:
    score = 0
    if response_codes & {code.lower() for code in case.codes}:
        score += CODE_WEIGHT
    score += HEADLINE_WEIGHT * _strength(headline, (*case.keywords, *case.codes))
    score += DETAIL_WEIGHT * _strength(detail, case.keywords)
    return score


def _strength(text: str | None, words: Iterable[str]) -> int:
    """Return how strongly ``text`` mentions ``words``: 0, 1 or PHRASE_FACTOR."""
    if not text:
        return 0
    found = [word for word in words if _word_pattern(word).search(text)]
    if any(" " in word for word in found):
        return PHRASE_FACTOR
    return 1 if found else 0


@cache
def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])", re.IGNORECASE)

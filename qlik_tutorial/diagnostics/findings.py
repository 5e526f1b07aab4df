"""Findings: the problems that the pre-flight checks and ``doctor`` report.

A `Finding` names its check, the troubleshooting table row the problem would
end in, the symptom, cause and fix, and the offending value, which is never a
secret. `finding_for_error` turns an error the kit raised into a finding, and
`format_findings` formats findings for a terminal or a notebook.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import (
    AlgorithmError,
    ClientAssertionError,
    JWKError,
    PrivateKeyError,
    QlikTutorialError,
    ServerError,
    TenantTimeoutError,
    TenantURLError,
    TransportError,
    WorkspaceError,
)
from ..troubleshooting import ROW_SIGNATURE, ROW_TIMEOUT, case_named


@dataclass(frozen=True)
class Finding:
    """One problem a check found, with the table row it leads to.

    ``check`` names the check or troubleshooting case, ``row`` the table row
    (``None`` for a case the table lacks), ``value`` the offending value,
    already safe to show.
    """

    check: str
    row: str | None
    symptom: str
    cause: str
    fix: str
    value: object = None

    def __str__(self) -> str:
        text = self.symptom
        if self.value is not None:
            text += f": {self.value!r}"
        return f"{text}. Cause: {self.cause}. Fix: {self.fix}"


# --- Errors already raised ---------------------------------------------------

_ERROR_CHECKS: tuple[tuple[type[QlikTutorialError], str, str | None], ...] = (
    (PrivateKeyError, "private_key", None),
    (AlgorithmError, "key_fits_alg", ROW_SIGNATURE),
    (JWKError, "public_jwk", None),
    (TenantURLError, "tenant_url", None),
    (ClientAssertionError, "client_assertion", None),
    (WorkspaceError, "workspace", None),
    (TenantTimeoutError, "timeout", ROW_TIMEOUT),
    (TransportError, "unreachable", ROW_TIMEOUT),
)


def finding_for_error(error: QlikTutorialError) -> Finding:
    """Turn an error the kit raised into a finding with its table row.

    A server error response keeps the troubleshooting case it was matched to,
    a timeout or failed connection belongs to the "Token request timeout"
    row, and a configuration error gets the name of what it is about.
    """
    check, row = "error", None
    if isinstance(error, ServerError):
        check = error.case or "http_error"
        try:
            row = case_named(check).row
        except KeyError:
            row = None
    else:
        for error_class, name, error_row in _ERROR_CHECKS:
            if isinstance(error, error_class):
                check, row = name, error_row
                break
    return Finding(check, row, error.symptom, error.cause, error.fix, error.value)


FINDINGS_WIDTH = 88
_LABEL_WIDTH = 13


# A command that a fix suggests stays on one line, so it can be copied
# whole. Its words are joined by a no-break space while wrapping.
_COMMAND = re.compile(r"\b(curl|qlik-tutorial|openssl) \S+(?: --?\S+(?: [^\s-]\S*)?)*")
_NO_BREAK_SPACE = "\u00a0"


def _wrapped(text: str, first: str, rest: str) -> str:
    joined = _COMMAND.sub(
        lambda match: match.group(0).replace(" ", _NO_BREAK_SPACE), text
    )
    filled = textwrap.fill(
        joined,
        width=FINDINGS_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return filled.replace(_NO_BREAK_SPACE, " ")


def _labelled(label: str, text: str) -> str:
    first = f"  {label + ':':<{_LABEL_WIDTH - 2}}"
    return _wrapped(text, first, " " * _LABEL_WIDTH)


def format_findings(findings: Sequence[Finding]) -> str:
    """Format findings as text, one block each, for a terminal or a notebook.

    A block starts with the check's name and the symptom, followed by labelled
    lines for the value, table row, cause and fix. Lines wrap at 88 columns,
    continuing under the start of their text.
    """
    if not findings:
        return "No problem found."
    blocks = []
    for finding in findings:
        lines = [_wrapped(f"[{finding.check}] {finding.symptom}", "", "    ")]
        if finding.value is not None:
            lines.append(_labelled("value", repr(finding.value)))
        lines += [
            _labelled("table row", finding.row or "none, a case of its own"),
            _labelled("cause", finding.cause),
            _labelled("fix", finding.fix),
        ]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)

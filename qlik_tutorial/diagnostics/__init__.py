"""Pre-flight checks of a client assertion and its token request, and ``doctor``.

`diagnose` looks at an assertion before it is sent, together with whatever is
known of the configuration (signing key, tenant, client ID, registered keys),
and returns one `Finding` per problem. A finding names its check, the row of
the tutorial's troubleshooting table the problem would end in (``None`` for a
case the table lacks), the symptom, cause and fix, and the offending value,
which is never a secret::

    findings = diagnose(jwt, key=key, tenant="acme.eu.qlikcloud.com", client_id=cid)
    print(format_findings(findings))

`CHECKS` lists every check. `probe_tenant` checks that the tenant responds and
estimates its clock offset from the ``Date`` header. `doctor` runs both for
``qlik-tutorial doctor`` and returns exit code 0 when nothing was found, 1
otherwise.

Modules: ``findings`` (`Finding` and its formatting), ``checks`` (the check
table and the split assertion), ``key_checks`` and ``claim_checks`` (the
checks themselves), ``preflight`` (`diagnose`), ``clock`` (the clock offset),
``probe`` (`probe_tenant`) and ``doctor_command`` (`doctor` and its options).
"""

from .checks import CHECKS, Check
from .claim_checks import FUTURE_IAT_TOLERANCE, REQUIRED_CLAIMS
from .clock import (
    CLOCK_OFFSET_THRESHOLD,
    ClockOffset,
    check_clock_offset,
    clock_offset_note,
    estimate_clock_offset,
)
from .doctor_command import (
    add_configuration_arguments,
    add_doctor_arguments,
    doctor,
    run_doctor,
)
from .findings import Finding, finding_for_error, format_findings
from .key_checks import ES384_SIGNATURE_BYTES
from .preflight import FORM_CONTENT_TYPE, GRANT_TYPE_URN, diagnose
from .probe import probe_tenant

__all__ = [
    "CHECKS",
    "CLOCK_OFFSET_THRESHOLD",
    "ES384_SIGNATURE_BYTES",
    "FORM_CONTENT_TYPE",
    "FUTURE_IAT_TOLERANCE",
    "GRANT_TYPE_URN",
    "REQUIRED_CLAIMS",
    "Check",
    "ClockOffset",
    "Finding",
    "add_configuration_arguments",
    "add_doctor_arguments",
    "check_clock_offset",
    "clock_offset_note",
    "diagnose",
    "doctor",
    "estimate_clock_offset",
    "finding_for_error",
    "format_findings",
    "probe_tenant",
    "run_doctor",
]

"""Parameter resolution for the step notebooks, and what they pass on.

Every step notebook has one cell tagged ``parameters`` with plain values, where
``None`` means "not set". A value that is not set comes from its environment
variable, then from the workspace, then from the default::

    parameter    environment variable      workspace                  default
    workspace    QLIK_TUTORIAL_WORKSPACE   -                          <repo>/workspace
    tenant       QLIK_TENANT               client.json                "local"
    client_id    QLIK_CLIENT_ID            client.json                registered by 02
    private_key  QLIK_PRIVATE_KEY (PEM)    private_key.pem            new key from 01
    alg          -                         public_jwk.json            RS256

The tenant ``"local"`` is the offline local tenant of the workspace, started
when needed. Notebooks 02 to 05 take the alg, tenant and client ID from the
workspace and raise when a parameter contradicts it. Notebooks pass nothing to
each other but the workspace's files.

The helpers are re-exported here, so a notebook needs only ``from
qlik_tutorial import notebook as nb``. They live in
`qlik_tutorial.notebook_parameters` (parameter resolution),
`qlik_tutorial.notebook_steps` (what each step hands to the next),
`qlik_tutorial.notebook_local_tenant` (local tenant only) and
`qlik_tutorial.notebook_display` (display).
"""

from __future__ import annotations

from .notebook_display import (
    SUMMARY_MIMETYPE,
    assertion_text,
    checklist_text,
    checklist_widget,
    curl_api_text,
    curl_token_text,
    error_text,
    format_utc,
    jwk_copy_widget,
    jwk_json_text,
    jwk_members_text,
    jwk_text,
    key_files_text,
    openssl_text,
    redirect_text,
    show_assertion,
    show_checklist,
    show_curl_api,
    show_curl_token,
    show_errors_briefly,
    show_jwk,
    show_key_files,
    show_openssl,
    show_redirect,
    show_summary,
    show_token,
    show_token_issued,
    show_user,
    summarize_assertion,
    summarize_client,
    summarize_key,
    summarize_token,
    summarize_user,
    summary_bundle,
    token_issued_text,
    token_text,
)
from .notebook_display import Clock as Clock
from .notebook_display import expiry_text as expiry_text
from .notebook_display import relative_time as relative_time
from .notebook_local_tenant import (
    require_local_tenant,
    shift_local_clock,
    show_stop_command,
    stop_command,
)
from .notebook_parameters import (
    CLIENT_ID_ENV,
    LOCAL_TENANT,
    METADATA_KEY,
    PARAMETERS,
    PRIVATE_KEY_ENV,
    TENANT_ENV,
    Tenant,
    check_alg,
    resolve_tenant,
    resolve_workspace,
    workspace_alg,
)
from .notebook_parameters import DEFAULT_ALG as DEFAULT_ALG
from .notebook_steps import ASSERTION_MARGIN as ASSERTION_MARGIN
from .notebook_steps import TOKEN_MARGIN as TOKEN_MARGIN
from .notebook_steps import (
    assertion_for_exchange,
    load_client,
    load_key,
    load_public_jwk,
    prepare_key,
    register_client,
    token_for_call,
)

__all__ = [
    "CLIENT_ID_ENV",
    "LOCAL_TENANT",
    "METADATA_KEY",
    "PARAMETERS",
    "PRIVATE_KEY_ENV",
    "SUMMARY_MIMETYPE",
    "TENANT_ENV",
    "Tenant",
    "assertion_for_exchange",
    "assertion_text",
    "check_alg",
    "checklist_text",
    "checklist_widget",
    "curl_api_text",
    "curl_token_text",
    "error_text",
    "format_utc",
    "jwk_copy_widget",
    "jwk_json_text",
    "jwk_members_text",
    "jwk_text",
    "key_files_text",
    "load_client",
    "load_key",
    "load_public_jwk",
    "openssl_text",
    "prepare_key",
    "redirect_text",
    "register_client",
    "require_local_tenant",
    "resolve_tenant",
    "resolve_workspace",
    "shift_local_clock",
    "show_assertion",
    "show_checklist",
    "show_curl_api",
    "show_curl_token",
    "show_errors_briefly",
    "show_jwk",
    "show_key_files",
    "show_openssl",
    "show_redirect",
    "show_stop_command",
    "show_summary",
    "show_token",
    "show_token_issued",
    "show_user",
    "stop_command",
    "summarize_assertion",
    "summarize_client",
    "summarize_key",
    "summarize_token",
    "summarize_user",
    "summary_bundle",
    "token_for_call",
    "token_issued_text",
    "token_text",
    "workspace_alg",
]

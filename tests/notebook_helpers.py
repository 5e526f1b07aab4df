"""Values shared by the tests that run the tutorial notebooks."""

from __future__ import annotations

# The papermill parameters every notebook declares, with their defaults.
EXPECTED_PARAMETERS = {
    "workspace": "None",
    "tenant": "None",
    "client_id": "None",
    "private_key": "None",
    "alg": "None",
    "interactive": "True",
}
# Environment variables a notebook reads; tests clear them for a bare run.
ENVIRONMENT = (
    "QLIK_TUTORIAL_WORKSPACE",
    "QLIK_TENANT",
    "QLIK_CLIENT_ID",
    "QLIK_PRIVATE_KEY",
)
CELL_TIMEOUT = 60.0

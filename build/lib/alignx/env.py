"""Offline and telemetry settings the project sets for itself (no session environment is assumed)."""

import os

# Values verified on this stack (../shared/ENVIRONMENT.md). A variable the caller already set wins.
DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "true",
    # A busy 2-core machine can miss Prefect's 20 s default for the ephemeral API server.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_defaults() -> None:
    """Set every default the caller has not set already."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)

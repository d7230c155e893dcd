"""AlignX-Ops: user-level personalized alignment (ICA and PBA) as a DVC + Prefect + MLflow + GX pipeline."""

from alignx import env as _env

_env.apply_defaults()

__version__ = "0.1.0"

"""The Prefect flows of the pipeline stages, one module per stage (wiring only; the work is in src/alignx)."""

import alignx  # noqa: F401  (first: the project's environment, PREFECT_HOME included, before Prefect reads its settings)

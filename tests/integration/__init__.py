"""One component against the real stack in process: DeepSpeed engines, a Prefect server, MLflow stores, child
processes (seconds to minutes each). tests/unit stays the fast, pure-function layer."""

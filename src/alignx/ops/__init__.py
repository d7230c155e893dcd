"""Operations: the `alignx` command, the Prefect server and deployments, the MLflow UI."""

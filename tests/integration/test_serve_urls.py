"""The addresses `make ui` prints lead to the model-training view of experiment `alignx`."""

import mlflow

from alignx.ops.serve import ML_WORKFLOW, experiment_url


def test_experiment_url_opens_the_model_training_view(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert experiment_url("http://127.0.0.1:5000", store) == f"http://127.0.0.1:5000/#/experiments?{ML_WORKFLOW}"
    experiment_id = mlflow.MlflowClient(tracking_uri=store).create_experiment("alignx")
    assert experiment_url("http://127.0.0.1:5000", store) == (
        f"http://127.0.0.1:5000/#/experiments/{experiment_id}/runs?workflowType=machine_learning")

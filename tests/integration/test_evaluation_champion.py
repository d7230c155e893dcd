"""The MLflow alias `champion` follows the evaluation's verdict on the `candidate` version (real MLflow store).

One test on one store: creating a sqlite MLflow store costs seconds, the three cases cost milliseconds."""

from mlflow import MlflowClient

from alignx.evaluation.champion import update_champion


def _register(client: MlflowClient, name: str, versions: int) -> None:
    client.create_registered_model(name)
    for _ in range(versions):
        client.create_model_version(name, source=f"models/{name}")


def test_champion_follows_the_verdict_on_the_candidate(mlflow_store):
    client = MlflowClient()
    # A candidate that beats the best baseline becomes champion, tagged with its figures.
    _register(client, "alignx-pba", 2)
    client.set_registered_model_alias("alignx-pba", "candidate", "2")
    out = update_champion("pba", True, tags={"eval.test_accuracy": 0.81})
    assert out["moved"] and out["version"] == 2
    assert client.get_model_version_by_alias("alignx-pba", "champion").version == 2
    assert client.get_model_version("alignx-pba", "2").tags["eval.test_accuracy"] == "0.8100"

    # One that does not leaves the previous champion in place.
    _register(client, "alignx-ica", 2)
    client.set_registered_model_alias("alignx-ica", "champion", "1")
    client.set_registered_model_alias("alignx-ica", "candidate", "2")
    out = update_champion("ica", False)
    assert not out["moved"] and out["version"] == 2 and "does not beat" in out["reason"]
    assert client.get_model_version_by_alias("alignx-ica", "champion").version == 1

    # No registered candidate: reported, not raised (the evaluation itself stands).
    out = update_champion("other", True)
    assert out == {"moved": False, "version": None,
                   "reason": "no version of registered model 'alignx-other' has alias 'candidate'; champion not moved"}

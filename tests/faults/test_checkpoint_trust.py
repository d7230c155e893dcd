"""Fault matrix, checkpoints (issue 28.9): DeepSpeed unpickles its checkpoint files, so only a checkpoint whose files
are exactly those this project saved is ever resumed; anything else starts fresh, saying why, or is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignx.training import checkpoint


def _our_checkpoint(folder: Path, key: str = "k") -> Path:
    """A checkpoint folder laid out as `checkpoint.save` leaves it (files, digests, `latest`, fingerprint)."""
    (folder / "step8").mkdir(parents=True)
    (folder / "step8" / "mp_rank_00_model_states.pt").write_bytes(b"weights")
    (folder / "latest").write_text("step8")
    (folder / checkpoint.FINGERPRINT).write_text(json.dumps({"fingerprint": key}))
    (folder / f"step8{checkpoint.DIGESTS}").write_text(json.dumps(checkpoint._digests(folder / "step8")))
    return folder


def test_a_checkpoint_we_wrote_is_resumable(tmp_path):
    folder = _our_checkpoint(tmp_path / "ckpt")
    assert checkpoint.verify(folder) == ""
    assert checkpoint.prepare(folder, print, 0, "k") is True


@pytest.mark.parametrize("damage", ["altered", "added", "no_digests"])
def test_a_checkpoint_we_did_not_write_is_never_unpickled(tmp_path, damage):
    folder = _our_checkpoint(tmp_path / "ckpt")
    if damage == "altered":
        (folder / "step8" / "mp_rank_00_model_states.pt").write_bytes(b"crafted pickle")
    elif damage == "added":
        (folder / "step8" / "extra.pt").write_bytes(b"crafted pickle")
    else:
        (folder / f"step8{checkpoint.DIGESTS}").unlink()
    assert checkpoint.verify(folder)
    with pytest.raises(RuntimeError, match="refusing to load a checkpoint this project did not write"):
        checkpoint.load(engine=None, directory=folder)
    said = []
    assert checkpoint.prepare(folder, said.append, 0, "k") is False
    assert "not one this project wrote" in said[0]
    assert not (folder / "step8").exists()  # cleared: the run starts fresh and saves its own

"""Fault matrix, listeners (issue 28.2): training opens no socket reachable from the network, in one process and
with two ranks under the `deepspeed` launcher on one node (listening sockets are listed while it trains)."""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import replace

import psutil
import pytest

from alignx.training.launch import run_training
from alignx.training.trainer import TrainConfig, TrainPaths, train
from tests.toy import ToySize, write_inputs

CFG = TrainConfig(lr=2e-3, global_batch=8, micro_batch=4, max_steps=6, checkpoint_every=100)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("toy"), ToySize(vocab=128, hidden=32, layers=2, heads=2),
                        n_train=32, n_val=8, prompt_len=(8, 20), response_len=(4, 12))


class Listeners:
    """Every listening address of this process and its children, sampled until stopped."""

    def __init__(self) -> None:
        self.seen: set[tuple[int, str, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Listeners:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.05):
            for proc in [me, *me.children(recursive=True)]:
                try:
                    conns = proc.net_connections(kind="inet")
                except psutil.Error:
                    continue
                self.seen |= {(proc.pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}

    def exposed(self) -> list[tuple[int, str, int]]:
        return sorted(s for s in self.seen if not ipaddress.ip_address(s[1]).is_loopback)


def _paths(toy, root) -> TrainPaths:
    return TrainPaths(**{**toy, "export": str(root / "model"), "checkpoints": str(root / "ckpt")})


def test_one_process_training_listens_on_loopback_only(toy, tmp_path):
    with Listeners() as listeners:
        train(CFG, _paths(toy, tmp_path))
    assert listeners.exposed() == [], listeners.seen


@pytest.mark.slow
def test_two_ranks_on_one_node_listen_on_loopback_only(toy, tmp_path):
    with Listeners() as listeners:
        run_training(replace(CFG, num_processes=2), _paths(toy, tmp_path))
    assert listeners.exposed() == [], listeners.seen

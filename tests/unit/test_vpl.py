"""The VPL baseline's pieces (alignx.vpl): encoder / KL / loss shapes, the on-disk format, context subsets, the
shown-context rebuild, and that a trained VPL tells two synthetic user types apart from their context pairs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from alignx.config import FormatConfig, VplConfig
from alignx.contracts import PAIR
from alignx.inputs.prompts import record_rng, sample_persona
from alignx.vpl import contexts, model, training
from alignx.vpl.features import FeatureTable
from tests.records import records

SHAPE = model.Shape(feature_dim=6, hidden=16, latent=4)


def _batch(n: int = 5, k: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    chosen, rejected = torch.randn(n, SHAPE.feature_dim, generator=g), torch.randn(n, SHAPE.feature_dim, generator=g)
    context = torch.randn(n, k, 2, SHAPE.feature_dim, generator=g)
    mask = torch.tensor([[True, True, False, False], [False] * 4, [True] * 4, [True, False, False, False],
                         [False] * 4])[:n]
    return chosen, rejected, context, mask


def test_encoder_gives_one_latent_per_row_and_the_prior_without_context():
    torch.manual_seed(0)
    net = model.VPLNet(SHAPE)
    chosen, rejected, context, mask = _batch()
    mu, logvar = net.encode(context, mask)
    assert mu.shape == logvar.shape == (5, SHAPE.latent)
    no_context = ~mask.any(1)
    assert torch.equal(mu[no_context], torch.zeros(2, SHAPE.latent))
    assert torch.equal(logvar[no_context], torch.zeros(2, SHAPE.latent))
    # Masked-out context pairs are ignored: changing them changes nothing.
    changed = context.clone()
    changed[~mask] = 100.0
    assert torch.allclose(net.encode(changed, mask)[0], mu)
    r_c, r_r, kl = net(chosen, rejected, context, mask, sample=True)
    assert r_c.shape == r_r.shape == kl.shape == (5,)
    assert torch.equal(kl[no_context], torch.zeros(2))  # the prior adds no KL
    # Evaluation uses the posterior mean: deterministic.
    assert torch.equal(net(chosen, rejected, context, mask)[0], net(chosen, rejected, context, mask)[0])


def test_kl_and_bradley_terry_values():
    assert model.kl_to_prior(torch.zeros(1, 3), torch.zeros(1, 3)).item() == 0.0
    # KL(N(mu, s^2) || N(0, 1)) = 0.5 (mu^2 + s^2 - 1 - log s^2), summed over dimensions.
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(4.0)]])
    assert model.kl_to_prior(mu, logvar).item() == pytest.approx(0.5 * 1 + 0.5 * (4 - 1 - math.log(4)))
    assert model.bradley_terry(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(math.log(2))
    assert model.bradley_terry(torch.tensor([5.0]), torch.tensor([-5.0])).item() < 1e-4


def test_save_and_load_round_trip_without_pickle(tmp_path):
    torch.manual_seed(0)
    net = model.VPLNet(SHAPE)
    model.save(net, tmp_path / "vpl", {"pairs": 3})
    assert sorted(p.name for p in (tmp_path / "vpl").iterdir()) == ["model.safetensors", "vpl.json"]
    doc = json.loads((tmp_path / "vpl/vpl.json").read_text())
    assert doc["latent"] == SHAPE.latent and doc["trained"] == {"pairs": 3}
    loaded, _ = model.load(tmp_path / "vpl")
    batch = _batch()
    assert torch.allclose(loaded(*batch)[0], net.eval()(*batch)[0])
    with pytest.raises(FileNotFoundError, match="missing"):
        model.load(tmp_path / "missing")


def test_random_subsets_stay_inside_the_available_context():
    rng = np.random.default_rng(0)
    mask = np.array([[True, True, True, False], [False] * 4, [True] * 4] * 200)
    sub = training.random_subsets(mask, rng)
    assert not (sub & ~mask).any()
    sizes = sub.sum(1)
    assert set(sizes[0::3]) == {0, 1, 2, 3} and set(sizes[1::3]) == {0} and set(sizes[2::3]) == {0, 1, 2, 3, 4}


def test_shown_pairs_are_the_pair_items_formats_persona_draw_shows():
    fmt = FormatConfig()
    for rec in records(40, split="test"):
        persona = sample_persona(rec, record_rng(fmt.seed, "ica", rec["record_id"]), fmt.modes)
        n = len(persona.pair)
        assert contexts.shown_pairs(rec, persona.mode, n, "ica", fmt) == persona.pair
        if n > 1:  # one item cut to fit: the oldest goes
            assert contexts.shown_pairs(rec, persona.mode, n - 1, "ica", fmt) == persona.pair[1:]
    rec = records(1, split="test")[0]
    persona = sample_persona(rec, record_rng(fmt.seed, "ica", rec["record_id"]), fmt.modes)
    wrong = "ugc" if persona.mode != "ugc" else "pair"
    with pytest.raises(contexts.ContextError, match=rec["record_id"]):
        contexts.shown_pairs(rec, wrong, 1, "ica", fmt)


def _two_user_types(n_records: int, seed: int) -> tuple[np.ndarray, contexts.Indexed]:
    """Texts are 3-d features; the pair's two responses differ on feature 0 only. Users of type +1 prefer the
    response with the higher feature 0, users of type -1 the lower one; each record carries 2 context pairs of its
    user. Without the context the two types are indistinguishable (chance)."""
    rng = np.random.default_rng(seed)
    feats, chosen, rejected, context = [], [], [], []

    def pair(sign: int) -> tuple[int, int]:
        a, b = rng.normal(size=3), rng.normal(size=3)
        b[0] = a[0] - abs(rng.normal()) - 0.5  # a is higher on feature 0
        feats.extend([a, b])
        hi, lo = len(feats) - 2, len(feats) - 1
        return (hi, lo) if sign > 0 else (lo, hi)

    for i in range(n_records):
        sign = 1 if i % 2 == 0 else -1
        c, r = pair(sign)
        chosen.append(c)
        rejected.append(r)
        context.append([pair(sign), pair(sign), (0, 0), (0, 0)])
    mask = np.tile([True, True, False, False], (n_records, 1))
    return np.asarray(feats, dtype=np.float32), contexts.Indexed(
        np.asarray(chosen), np.asarray(rejected), np.asarray(context, dtype=np.int64), mask)


def test_a_trained_vpl_separates_two_user_types_by_their_context():
    train_feats, train = _two_user_types(400, 0)
    val_feats, val = _two_user_types(200, 1)
    offset = len(train_feats)
    val = contexts.Indexed(val.chosen + offset, val.rejected + offset, val.context + offset, val.mask)
    features = np.concatenate([train_feats, val_feats])
    cfg = VplConfig(latent=8, hidden=32, epochs=15, batch_size=64, lr=3e-3, kl_weight=1e-4, seed=0)
    result = training.fit(features, train, val, cfg, progress=False)
    assert result.val_accuracy > 0.9
    assert len(result.curve) == 15 and result.curve[-1]["bt"] < result.curve[0]["bt"]
    # With the context hidden (the prior z = 0) the model cannot tell the types apart.
    hidden = contexts.Indexed(val.chosen, val.rejected, val.context, np.zeros_like(val.mask))
    assert abs(training.accuracy(result.net, torch.from_numpy(features), hidden) - 0.5) < 0.1


def test_index_maps_texts_to_feature_rows_and_pads_the_context():
    recs = records(3, split="test")
    pairs = contexts.pair_set(recs, shown=[(0,), (), (0, 1)])
    table = FeatureTable(list(dict.fromkeys(pairs.texts())), np.zeros((len(set(pairs.texts())), 2), dtype=np.float32))
    rows = contexts.index(pairs, table)
    assert rows.n_context.tolist() == [1, 0, 2] and rows.context.shape == (3, 4, 2)
    first = recs[2][PAIR][1]
    assert rows.context[2, 1, 0] == table.index[(first["prompt"], first["chosen"])]
    with pytest.raises(KeyError, match="not embedded"):
        table.rows([("unknown post", "unknown response")])

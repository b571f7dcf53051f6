"""attnscope.interventions.head_ablation_sweep: the toy model's circuit, a second implementation
(one traced forward pass per ablated head), and agreement with `attnscope ablate --sweep --json`."""

import json
import random
import string
import subprocess

import numpy as np
import pytest

from attnscope import interventions as iv
from conftest import CLI, TOY_FIRST, TOY_INDUCTION, TOY_PREVIOUS


def _repeated_letters(seed, n=12):
    """n distinct random letters, then a prefix of them again; the target is the letter that
    followed that prefix the first time (what an induction circuit predicts)."""
    r = random.Random(seed)
    seq = r.sample(string.ascii_lowercase, n)
    k = r.randrange(2, n - 1)
    return "".join(seq + seq[:k]), seq[k]


def _reference(model, prompt, target, layer, head, mean):
    """Target logit and probability at the last position with one head ablated, from a plain
    traced forward pass (no prefix reuse, no batching)."""
    interventions = None if layer is None else iv.ablate_heads(layer, [head], "mean" if mean else "zero")
    with model.trace(prompt, interventions=interventions) as t:
        pass
    row = np.asarray(t.output, dtype=np.float64)[0, -1]
    tid = model.encode(target, add_bos=False)[0]
    logprob = row[tid] - (row.max() + np.log(np.exp(row - row.max()).sum()))
    return row[tid], np.exp(logprob)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_toy_sweep_finds_the_induction_circuit(toy, seed):
    prompt, target = _repeated_letters(seed)
    s = iv.head_ablation_sweep(toy, prompt, target=target)
    assert s.delta_logit.shape == s.delta_prob.shape == (toy.n_layers, toy.n_heads)
    assert s.delta_logit.dtype == np.float32 and s.layers == list(range(toy.n_layers))
    assert s.kind == "zero" and s.target_str == target
    assert s.position == len(toy.encode(prompt)) - 1
    assert s.clean_prob > 0.9  # the toy model predicts the repeat
    ranked = s.ranked()
    assert [(l, h) for l, h, _ in ranked[:2]] == [TOY_INDUCTION, TOY_PREVIOUS]
    assert ranked[0][2] < ranked[1][2] < -5  # large drops, largest first
    assert abs(s.delta_logit[TOY_FIRST]) < 1e-3 and abs(s.delta_prob[TOY_FIRST]) < 1e-4
    # The tables are the per-head results laid out [layer, head].
    for l, h, d in ranked:
        assert s.delta_logit[l, h] == d == s.at(l, h)["delta_logit"]
        np.testing.assert_allclose(s.logit[l, h] - s.clean_logit, d, atol=1e-5)


@pytest.mark.parametrize("mean", [False, True])
def test_sweep_equals_one_traced_pass_per_head(toy, mean):
    prompt, target = _repeated_letters(7)
    s = iv.head_ablation_sweep(toy, prompt, target=target, mean=mean)
    plain = iv.head_ablation_sweep(toy, prompt, target=target, mean=mean, reuse_prefix=False)
    assert plain.forward_passes == 1 + toy.n_layers * toy.n_heads
    assert s.forward_passes == 1 + toy.n_layers
    clean_logit, clean_prob = _reference(toy, prompt, target, None, None, mean)
    np.testing.assert_allclose([s.clean_logit, s.clean_prob], [clean_logit, clean_prob], rtol=1e-5, atol=1e-5)
    for layer in range(toy.n_layers):
        for head in range(toy.n_heads):
            logit, prob = _reference(toy, prompt, target, layer, head, mean)
            for result in (s, plain):
                np.testing.assert_allclose(result.logit[layer, head], logit, rtol=1e-5, atol=1e-4)
                np.testing.assert_allclose(result.prob[layer, head], prob, rtol=1e-5, atol=1e-5)
                np.testing.assert_allclose(result.delta_prob[layer, head], prob - clean_prob, atol=1e-5)


def test_sweep_inputs(toy):
    prompt, target = _repeated_letters(3)
    ids = toy.encode(prompt)
    tid = toy.encode(target, add_bos=False)[0]
    by_text = iv.head_ablation_sweep(toy, prompt, target=target)
    by_ids = iv.head_ablation_sweep(toy, ids, target=tid, max_batch=1)
    np.testing.assert_array_equal(by_ids.delta_logit, by_text.delta_logit)
    one = iv.head_ablation_sweep(toy, prompt, target=target, layers=[1])
    assert one.layers == [1] and one.delta_logit.shape == (1, toy.n_heads)
    np.testing.assert_array_equal(one.delta_logit[0], by_text.delta_logit[1])
    # Reading an earlier position: the prediction inside the first (random) half is not induction.
    early = iv.head_ablation_sweep(toy, ids, target=tid, position=3)
    assert early.position == 3 and early.clean_prob < 0.5
    csv = by_text.to_csv().splitlines()
    assert csv[0] == "layer,head,logit,prob,delta_logit,delta_prob" and len(csv) == 1 + toy.n_layers * toy.n_heads
    with pytest.raises(ValueError):
        iv.head_ablation_sweep(toy, prompt, target=10**6)
    with pytest.raises(ValueError):
        iv.head_ablation_sweep(toy, prompt, target=target, layers=[toy.n_layers])
    with pytest.raises(ValueError):
        iv.head_ablation_sweep(toy, prompt, target=target, position=len(ids))
    with pytest.raises(TypeError):
        iv.head_ablation_sweep(toy, prompt, target=1.5)
    with pytest.raises(TypeError):
        iv.head_ablation_sweep("attnscope:toy", prompt, target=target)


@pytest.mark.parametrize("mean,layers", [(False, None), (True, [1])])
def test_sweep_json_matches_cli(toy, mean, layers):
    prompt, target = _repeated_letters(11)
    args = [CLI, "ablate", prompt, "--sweep", "--target", target, "--json"]
    if mean:
        args.append("--mean")
    if layers:
        args += ["--layers", ",".join(map(str, layers))]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(proc.stdout)
    s = iv.head_ablation_sweep(toy, prompt, target=target, mean=mean, layers=layers)
    py = json.loads(s.to_json())
    for d in (cli, py):
        d.pop("seconds")
    assert py == cli
    # The numpy tables carry exactly the numbers the CLI printed.
    for name in ("delta_logit", "delta_prob", "logit", "prob"):
        np.testing.assert_array_equal(getattr(s, name).astype(np.float64), np.array(cli[name], dtype=np.float64))
    assert s.layers == cli["layers"]
    assert [(l, h) for l, h, _ in s.ranked()[:10]] == [(t["layer"], t["head"]) for t in cli["top"]]

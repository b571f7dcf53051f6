"""Python and the attnscope command line give the same numbers on the same inputs."""

import json
import subprocess

import numpy as np
import pytest

from attnscope import _core
from attnscope import visualization as viz
from conftest import CLI, STORIES


def _cli(*args):
    proc = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and ("not found" in proc.stderr.lower() or "extras" in proc.stderr.lower()):
        pytest.skip(f"the CLI lacks this command: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("which", ["toy", "stories260K"])
def test_trace_npz_patterns_bit_for_bit(which, toy, stories, tmp_path):
    model = toy if which == "toy" else stories
    model_args = [] if which == "toy" else ["-m", str(STORIES)]
    text = "Once upon a time, Lily saw a ball. Lily"
    out = tmp_path / "trace.npz"
    _cli("trace", *model_args, text, "-o", str(out), "--logits")
    saved = np.load(out)
    with model.trace(text) as trace:
        pass
    patterns = viz.get_attention_patterns(trace)
    assert sorted(patterns) == list(range(model.n_layers))
    for layer, p in patterns.items():
        cli_p = saved[f"blocks.{layer}.attn.hook_pattern"]
        assert cli_p.dtype == p.dtype and cli_p.shape == p.shape
        assert np.array_equal(cli_p, p), f"layer {layer} differs"
    np.testing.assert_array_equal(saved["tokens"][0], trace.tokens[0])
    if "logits" in saved:
        assert np.array_equal(saved["logits"], trace.output)


def test_trace_npz_any_hook_and_ids(stories, tmp_path):
    ids = stories.encode("The dog ran")
    out = tmp_path / "z.npz"
    _cli("trace", "-m", str(STORIES), "--ids", ",".join(map(str, ids)), "--capture",
         "blocks.2.attn.hook_z,model.layers.3.self_attn", "-o", str(out))
    saved = np.load(out)
    with stories.trace(ids, capture=["blocks.2.attn.hook_z"]) as trace:
        attn = stories.model.layers[3].self_attn.output.save()
    assert np.array_equal(saved["blocks.2.attn.hook_z"], trace["blocks.2.attn.hook_z"])
    assert np.array_equal(saved["blocks.3.hook_attn_out"], np.asarray(attn))


@pytest.mark.parametrize("text", ["The quick brown fox jumps over the lazy dog", "abcabc abcabc"])
def test_heads_json_matches_python(stories, text):
    cli = json.loads(_cli("heads", "-m", str(STORIES), text, "--json"))
    assert cli.pop("precision_warning") is None  # the command's own field: an F32 file is exact
    py = json.loads(_core.detect_head_types(stories._core, text, viz.AttentionPatternDetector()._core, [])["json"])
    assert cli == py
    types = viz.detect_head_types(stories, text, threshold=None)
    by_type = {k: [tuple(x) for x in v] for k, v in
               _core.detect_head_types(stories._core, text, viz.AttentionPatternDetector()._core, [])["by_type"].items()}
    assert {k: v for k, v in types.items() if v} == by_type


def test_induction_json_matches_python(toy):
    cli = json.loads(_cli("induction", "--n-random-tokens", "30", "--seed", "5", "--json"))
    assert cli.pop("precision_warning") is None
    py = json.loads(_core.detect_induction_heads(toy._core, 30, 2, 0.3, 5, [], 1)["json"])
    assert cli == py
    heads = viz.detect_induction_heads(toy, n_random_tokens=30, seed=5)
    assert [(h.layer, h.head) for h in heads] == [(1, 0)]

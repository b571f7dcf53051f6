"""Ragged batches from Python: texts of different lengths in one trace, right or left padded; each
row without its pads equals tracing the text alone, and the npz of `attnscope trace` carries the
mask."""

import subprocess

import numpy as np
import pytest

from conftest import CLI, STORIES

TEXTS = ["Once upon a time there was a little girl", "The cat", "She saw a big red ball"]


@pytest.mark.parametrize("side", ["right", "left"])
def test_rows_equal_single_traces(stories, side):
    with stories.trace(TEXTS, padding_side=side, capture=["blocks.*.hook_resid_post"]) as batch:
        pass
    mask = batch.attention_mask
    assert mask.shape == (3, len(stories.encode(TEXTS[0])))
    for b, text in enumerate(TEXTS):
        n = len(stories.encode(text))
        real = np.flatnonzero(mask[b])
        assert len(real) == n and (real == (np.arange(n) if side == "right" else np.arange(mask.shape[1] - n, mask.shape[1]))).all()
        with stories.trace(text, capture=["blocks.*.hook_resid_post"]) as alone:
            pass
        row = batch.row(b)
        assert row.tokens == alone.tokens
        for layer, p in alone.attention_patterns().items():
            np.testing.assert_allclose(row.attention_patterns()[layer], p, atol=1e-5)
            # Real queries put no weight on pads in the padded pattern.
            padded = batch.attention_patterns()[layer][b]
            assert np.all(padded[:, mask[b] == 1][:, :, mask[b] == 0] == 0)
        np.testing.assert_allclose(row["blocks.3.hook_resid_post"], alone["blocks.3.hook_resid_post"], atol=1e-5)
        np.testing.assert_allclose(row.output, alone.output, atol=1e-5)


def test_trace_command_writes_the_mask(tmp_path):
    out = tmp_path / "run.npz"
    subprocess.run([CLI, "trace", "-m", str(STORIES), *TEXTS, "--padding-side", "left", "-o", str(out)], check=True,
                   capture_output=True)
    z = np.load(out)
    mask = z["attention_mask"]
    assert mask.shape == z["tokens"].shape == z["blocks.0.attn.hook_pattern"].shape[::2][:2]
    assert (z["tokens"][mask == 0] == -1).all()
    assert mask[1, -1] == 1 and mask[1, 0] == 0  # left padded


def test_bad_padding_side(stories):
    with pytest.raises(ValueError, match="padding_side"):
        stories.trace(TEXTS, padding_side="middle")

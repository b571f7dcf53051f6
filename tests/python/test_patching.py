"""attnscope.patching: the TransformerLens-named sweeps equal a hand loop of single patched runs
made with plain traced forward passes (full passes from the embeddings, Python interventions);
custom Python metrics and the normalised form; the toy model's induction circuit; path patching
against a hand-built two-step reference."""

import numpy as np
import pytest

from attnscope import patching
from conftest import TOY_INDUCTION, TOY_PREVIOUS

CLEAN, CORRUPTED = "ABCDEFGABCDEF", "ABCDXYGABCDEF"  # the corrupted first half breaks "F G"


def _ldiff(logits, a, w):
    row = np.asarray(logits, dtype=np.float64)[0, -1]
    return row[a] - row[w]


_CLEAN_VALUES = {}


def _hand(model, hook, select, a, w):
    """Full pass of CORRUPTED with the `select` elements of `hook` taken from the CLEAN run."""
    if hook not in _CLEAN_VALUES:
        _CLEAN_VALUES[hook] = np.asarray(model.run(CLEAN, capture=[hook], attention=False)[hook])
    clean = _CLEAN_VALUES[hook]

    def edit(x):
        x[select] = clean[select]
        return x

    t = model.run(CORRUPTED, interventions={hook: edit}, attention=False)
    return _ldiff(t.output, a, w)


@pytest.fixture(scope="module")
def tokens(toy):
    return toy._core.to_single_token("G"), toy._core.to_single_token("Q")


def test_sweeps_equal_hand_loop_of_full_passes(toy, tokens):
    a, w = tokens
    metric = patching.logit_diff("G", "Q")
    T = len(toy._core.encode(CLEAN, True))
    resid = patching.get_act_patch_resid_pre(toy, CORRUPTED, CLEAN, metric)
    assert resid.shape == (2, T)
    heads = patching.get_act_patch_attn_head_out_by_pos(toy, CORRUPTED, CLEAN, metric, max_batch=7)
    assert heads.shape == (2, T, 4)
    pattern = patching.get_act_patch_attn_head_pattern_by_pos(toy, CORRUPTED, CLEAN, metric)
    assert pattern.shape == (2, 4, T)
    for layer in range(2):
        for pos in range(0, T, 3):
            want = _hand(toy, f"blocks.{layer}.hook_resid_pre", (0, pos), a, w)
            assert resid[layer, pos] == pytest.approx(want, abs=2e-4 * max(1, abs(want)))
            for head in range(4):
                want = _hand(toy, f"blocks.{layer}.attn.hook_z", (0, pos, head), a, w)
                assert heads[layer, pos, head] == pytest.approx(want, abs=2e-4 * max(1, abs(want)))
                want = _hand(toy, f"blocks.{layer}.attn.hook_pattern", (0, head, pos), a, w)
                assert pattern[layer, head, pos] == pytest.approx(want, abs=2e-4 * max(1, abs(want)))


def test_custom_metric_normalised_form_and_frame(toy, tokens):
    a, w = tokens
    builtin = patching.sweep(toy, CLEAN, CORRUPTED, patching.logit_diff("G", "Q"), "heads")
    custom = patching.sweep(toy, CLEAN, CORRUPTED, lambda logits: float(logits[0, -1, a] - logits[0, -1, w]), "heads")
    np.testing.assert_allclose(custom.values, builtin.values, atol=1e-5)
    norm = patching.sweep(toy, CLEAN, CORRUPTED, patching.logit_diff(a, w), "heads", normalize=True)
    want = (builtin.values - builtin.corrupted_metric) / (builtin.clean_metric - builtin.corrupted_metric)
    np.testing.assert_allclose(norm.values, want, atol=1e-5)
    # The induction head and the previous-token head restore the copy; nothing else does much.
    order = np.argsort(-norm.values.reshape(-1))
    top = {divmod(int(i), 4) for i in order[:2]}
    assert top == {TOY_INDUCTION, TOY_PREVIOUS}
    pd = pytest.importorskip("pandas")
    frame = norm.to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["layer", "head", "value"]
    assert len(frame) == 8
    every = patching.sweep(toy, CLEAN, CORRUPTED, patching.logit_diff(a, w), "block_every")
    assert every.to_frame()["component"].iloc[0] == "resid_pre"
    with pytest.raises(Exception, match="hedas|sweep"):
        patching.sweep(toy, CLEAN, CORRUPTED, patching.logit_diff(a, w), "hedas")


def test_path_patching_matches_two_step_reference(toy, tokens):
    a, w = tokens
    metric = patching.logit_diff("G", "Q")
    hz = [f"blocks.{l}.attn.hook_z" for l in range(2)]
    clean = toy.run(CLEAN, capture=hz, attention=False)
    corr = toy.run(CORRUPTED, capture=hz, attention=False)
    cz = {h: np.asarray(clean[h]) for h in hz}
    xz = {h: np.asarray(corr[h]) for h in hz}

    def freeze(layer, senders):
        def edit(x):
            x[...] = cz[hz[layer]]
            for h in senders:
                x[:, :, h] = xz[hz[layer]][:, :, h]
            return x
        return edit

    # Step 2: L0H0 corrupted, every other head frozen clean; record L1's keys.
    step2 = toy.run(CLEAN, interventions={hz[0]: freeze(0, [0]), hz[1]: freeze(1, [])},
                    capture=["blocks.1.attn.hook_k"], attention=False)
    k2 = np.asarray(step2["blocks.1.attn.hook_k"])
    assert patching.path_patch(toy, CLEAN, CORRUPTED, [(0, 0)], [], metric) == pytest.approx(
        _ldiff(step2.output, a, w), abs=1e-4)

    # Step 3: only L1H0's key input (its key/value head) from step 2.
    group = 1  # the toy model has as many key/value heads as query heads
    def set_k(x):
        x[:, :, 0 // group] = k2[:, :, 0 // group]
        return x
    want = _ldiff(toy.run(CLEAN, interventions={"blocks.1.attn.hook_k": set_k}, attention=False).output, a, w)
    got = patching.path_patch(toy, CLEAN, CORRUPTED, [(0, 0)], [(1, 0)], metric, receiver_inputs="k")
    assert got == pytest.approx(want, abs=1e-4)
    sweep = patching.path_patch_sweep(toy, CLEAN, CORRUPTED, [(1, 0)], metric, receiver_inputs="k", normalize=True)
    assert sweep.shape == (2, 4)
    assert np.all(sweep[1] == 0)  # a sender in the receiver's layer is not read by it
    assert sweep[0, 0] < -0.5     # K-composition: the previous-token head feeds the induction keys

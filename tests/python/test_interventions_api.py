"""attnscope.interventions (imported as iv) inside traces."""

import numpy as np
import pytest

from attnscope import interventions as iv
from attnscope.visualization import detect_induction_heads
from attnscope import _core
from conftest import TOY_FIRST, TOY_INDUCTION, TOY_PREVIOUS

HOOK = "blocks.1.hook_attn_out"


def _value(model, text, interventions=None, hook=HOOK):
    with model.trace(text, interventions=interventions, capture=[hook]) as t:
        pass
    return t[hook], t.output


@pytest.mark.parametrize("edit,expect", [
    (iv.zero_out, lambda x: np.zeros_like(x)),
    (iv.scale(2.5), lambda x: x * np.float32(2.5)),
    (iv.clamp(-0.1, 0.2), lambda x: np.clip(x, -0.1, 0.2)),
    (iv.compose(iv.scale(2.0), iv.clamp(-0.5, 0.5)), lambda x: np.clip(x * 2, -0.5, 0.5)),
    (iv.compose([iv.scale(-1.0), lambda x: x + 1]), lambda x: -x + 1),
    (lambda x: np.tanh(x), np.tanh),
])
def test_edits_on_any_hook(any_model, edit, expect):
    clean, _ = _value(any_model, "Once upon a time")
    edited, _ = _value(any_model, "Once upon a time", {HOOK: edit})
    np.testing.assert_allclose(edited, expect(clean), rtol=1e-6, atol=1e-7)
    if isinstance(edit, iv.Intervention) and edit._numpy_fn is not None:
        np.testing.assert_allclose(edit(clean), expect(clean), rtol=1e-6, atol=1e-7)


def test_add_vector_replace_and_noise(stories):
    clean, _ = _value(stories, "Once upon a time")
    v = np.linspace(-1, 1, clean.shape[-1]).astype(np.float32)
    steered, _ = _value(stories, "Once upon a time", {HOOK: iv.add_vector(v, coeff=0.5)})
    np.testing.assert_allclose(steered, clean + 0.5 * v, rtol=1e-6, atol=1e-6)
    other = np.full_like(clean, 0.25)
    replaced, _ = _value(stories, "Once upon a time", {HOOK: iv.replace_with(other)})
    np.testing.assert_array_equal(replaced, other)
    n1, _ = _value(stories, "Once upon a time", {HOOK: iv.noise(0.1, seed=3)})
    n2, _ = _value(stories, "Once upon a time", {HOOK: iv.noise(0.1, seed=3)})
    n3, _ = _value(stories, "Once upon a time", {HOOK: iv.noise(0.1, seed=4)})
    np.testing.assert_array_equal(n1, n2)
    assert not np.array_equal(n1, n3)
    assert abs(float(np.std(n1 - clean)) - 0.1) < 0.03


def test_zero_out_attention_equals_ablating_all_heads(stories):
    text = "Once upon a time there was"
    _, a = _value(stories, text, {"model.model.layers.2.self_attn": iv.zero_out})
    _, b = _value(stories, text, iv.ablate_heads(2, range(stories.n_heads)))
    np.testing.assert_allclose(a, b, atol=1e-5)
    _, clean = _value(stories, text)
    _, one = _value(stories, text, iv.ablate_heads(2, [3]))
    assert not np.allclose(one, clean) and not np.allclose(one, a)


def test_set_head_pattern_to_its_own_pattern_changes_nothing(stories):
    text = "Once upon a time"
    with stories.trace(text) as clean:
        pass
    own = clean.attention_patterns()[1][0, 5]
    with stories.trace(text, interventions=iv.set_head_pattern(1, 5, own)) as same:
        pass
    np.testing.assert_array_equal(same.output, clean.output)
    with stories.trace(text, interventions=iv.set_head_pattern_uniform(1, 5)) as uni:
        pass
    p = uni.attention_patterns()[1][0, 5]
    n = p.shape[0]
    np.testing.assert_allclose(p, np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None], atol=1e-7)


def test_patching_every_head_carries_the_clean_attention_outputs(stories):
    clean_text, corrupt_text = "The dog ran home", "The cat sat down"
    assert len(stories.encode(clean_text)) == len(stories.encode(corrupt_text))
    with stories.trace(clean_text, capture=["blocks.*.attn.hook_z", "blocks.*.hook_attn_out",
                                            "blocks.4.hook_resid_post"]) as clean:
        pass
    edits = {}
    for layer in range(stories.n_layers):
        edits.update(iv.patch_heads(layer, range(stories.n_heads), clean))
    with stories.trace(corrupt_text, interventions=edits, capture=["blocks.*.hook_attn_out"]) as patched:
        pass
    for layer in range(stories.n_layers):
        np.testing.assert_allclose(patched[f"blocks.{layer}.hook_attn_out"], clean[f"blocks.{layer}.hook_attn_out"],
                                   atol=1e-5)
    # Patching the last residual stream reproduces the clean logits.
    with stories.trace(corrupt_text, interventions=iv.patch_hook("blocks.4.hook_resid_post", clean)) as full:
        pass
    np.testing.assert_allclose(full.output, clean.output, atol=1e-5)


def _induction_accuracy(model, interventions=None, seeds=range(3), n=30):
    pool = _core.random_token_pool(model._core)
    correct = total = 0
    for seed in seeds:
        ids = _core.random_repeated_tokens(pool, model._core.bos_id, n, 2, seed)
        with model.trace(ids, interventions=interventions) as t:
            pass
        pred = t.output[0].argmax(-1)
        # position p (in the second repeat) predicts token p + 1
        for p in range(n + 1, 2 * n):
            correct += int(pred[p] == ids[p + 1])
            total += 1
    return correct / total


def test_toy_induction_circuit_validated_by_ablation(toy):
    assert _induction_accuracy(toy) >= 0.9
    assert _induction_accuracy(toy, iv.ablate_heads(*TOY_INDUCTION)) < 0.3
    assert _induction_accuracy(toy, iv.ablate_heads(*TOY_PREVIOUS)) < 0.3
    assert _induction_accuracy(toy, iv.ablate_heads(*TOY_FIRST)) >= 0.9
    # ... and the detector finds exactly the head whose ablation breaks it.
    assert [(h.layer, h.head) for h in detect_induction_heads(toy, n_random_tokens=30)] == [TOY_INDUCTION]


def test_intervention_errors(toy):
    with pytest.raises(ValueError):
        iv.clamp(1, 0)
    with pytest.raises(ValueError):
        iv.replace_with(np.zeros(3), align="middle")
    with pytest.raises(TypeError):
        with toy.trace("hi", interventions={HOOK: 42}):
            pass
    with pytest.raises(Exception) as err:
        with toy.trace("hi", interventions={"blocks.0.hook_nothing": iv.zero_out}):
            pass
    assert isinstance(err.value, (ValueError, FileNotFoundError))

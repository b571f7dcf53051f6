"""What a TransformerLens user types works as there: ActivationCache keys (``trace["pattern", 4]``),
``model.layers[i]`` indexing like a list, ``to_single_token`` (and every text target resolved by
it), ``to_tokens`` and ``test_prompt``. Token ids come from the GGUF file's own token list and
probabilities from a softmax computed here."""

import numpy as np
import pytest

import attnscope
from attnscope import attribution as at
from attnscope import interventions as iv
from conftest import STORIES
from gguf_vocab import gguf_tokens

PROMPT = "Zara went to the park. Zara saw a dog. Then Zara"
SPACE = "\u2581"  # SentencePiece's space marker


@pytest.fixture(scope="module")
def vocab():
    if not STORIES.exists():
        pytest.skip(f"{STORIES} not present")
    return gguf_tokens(STORIES)


# -- text targets ----------------------------------------------------------------------------------

def test_a_text_target_of_two_tokens_is_refused_everywhere(stories, vocab):
    # stories260K has "Z" but no "▁Z": "Z" encodes to "▁" "Z", and the first token ("▁") was what
    # every target silently used.
    assert SPACE + "Z" not in vocab
    z = vocab.index("Z")
    listed = f"['{SPACE}' = {vocab.index(SPACE)}, 'Z' = {z}]"
    calls = {
        "to_single_token": lambda: stories.to_single_token("Z"),
        "head_ablation_sweep": lambda: iv.head_ablation_sweep(stories, PROMPT, "Z"),
        "direct_logit_attribution": lambda: at.direct_logit_attribution(stories, PROMPT, "Z"),
        "direct_logit_attribution minus": lambda: at.direct_logit_attribution(stories, PROMPT, z, minus="Z"),
        "scan": lambda: attnscope.scan(stories, [PROMPT], target="Z", progress=False),
    }
    for what, call in calls.items():
        with pytest.raises(ValueError) as e:
            call()
        assert listed in str(e.value), what
        assert f"'Z' = {z} (no leading space)" in str(e.value), what


def test_a_one_token_text_target_is_that_token(stories, vocab):
    lily = vocab.index(SPACE + "Lily")  # "Lily" is encoded with the space prefix, as a prompt's start
    assert stories.to_single_token("Lily") == lily
    assert iv.head_ablation_sweep(stories, PROMPT, "Lily").target == lily
    assert iv.head_ablation_sweep(stories, PROMPT, vocab.index("Z")).target_str == "Z"
    r = at.direct_logit_attribution(stories, PROMPT, "Lily")
    with stories.trace(PROMPT) as t:
        pass
    assert abs(r["logit"][0] - t.logits[0, -1, lily]) < 1e-4  # the attributed logit is Lily's


# -- ActivationCache keys --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cache(stories):
    with stories.trace("Once upon a time there was a girl",
                       capture=["blocks.*.attn.hook_z", "blocks.*.hook_resid_pre", "blocks.2.ln1.hook_normalized",
                                "hook_embed"]) as t:
        pass
    return t


def test_transformerlens_cache_keys_name_the_hooks(stories, cache):
    L, H = stories.n_layers, stories.n_heads
    T = len(cache.tokens[0])
    # TransformerLens' utils.get_act_name spellings, written out.
    expected = {
        ("pattern", 4): "blocks.4.attn.hook_pattern",
        ("attn", 3): "blocks.3.attn.hook_pattern",
        ("z", 4): "blocks.4.attn.hook_z",
        ("resid_pre", 2): "blocks.2.hook_resid_pre",
        ("resid_pre", -1): f"blocks.{L - 1}.hook_resid_pre",
        ("normalized", 2, "ln1"): "blocks.2.ln1.hook_normalized",
        "embed": "hook_embed",
        "blocks.4.attn.hook_pattern": "blocks.4.attn.hook_pattern",
    }
    acts = cache.activations
    for key, name in expected.items():
        np.testing.assert_array_equal(cache[key], acts[name], err_msg=str(key))
        assert key in cache
    assert cache["pattern", 4].shape == (1, H, T, T)
    assert cache["z", np.int64(4)].shape == (1, T, H, stories.config["n_embd"] // H)


def test_missing_or_wrong_cache_keys_are_clear_key_errors(stories, cache):
    with pytest.raises(KeyError, match=r"blocks\.0\.hook_mlp_out.*not captured.*blocks\.0\.attn\.hook_pattern"):
        cache["mlp_out", 0]
    assert ("mlp_out", 0) not in cache
    with pytest.raises(KeyError, match="outside the model's layers"):
        cache["pattern", stories.n_layers]
    with pytest.raises(KeyError, match="ambiguous.*ln1.*ln2"):
        cache["normalized", 2]
    with pytest.raises(KeyError, match="names no hook point"):
        cache["no_such_thing", 1]
    with pytest.raises(KeyError, match="per-layer"):
        cache["pattern"]
    with pytest.raises(KeyError, match="not captured"):
        cache["blocks.1.hook_mlp_out"]


def test_layers_index_like_a_list(stories):
    L = stories.n_layers
    for proxy in (stories.layers, stories.model.layers, stories.blocks):
        with pytest.raises(IndexError):
            proxy[L]
        with pytest.raises(IndexError):
            proxy[-L - 1]
    assert len(list(stories.layers)) == L  # iteration ends at the last layer
    with stories.trace("Once upon a time") as t:
        last = stories.layers[-1].save()
    np.testing.assert_array_equal(last.value, t.activations[f"blocks.{L - 1}.hook_resid_post"])


# -- to_tokens, test_prompt ------------------------------------------------------------------------

def test_to_tokens_pads_a_batch_like_transformerlens(stories, vocab):
    texts = ["Once upon a time", "Lily", "The cat sat on the mat"]
    right = stories.to_tokens(texts)
    left = stories.to_tokens(texts, padding_side="left")
    assert right.dtype.kind == "i" and right.shape == left.shape
    # The rows a ragged trace runs (its own C++ path), pads marked by its attention mask.
    with stories.trace(texts) as t:
        pass
    mask = np.asarray(t.attention_mask, bool)
    pad = stories.tokenizer.eos_token_id if stories._core.pad_id < 0 else stories._core.pad_id  # as TL: pad, else EOS
    for b in range(len(texts)):
        row = np.asarray(t.tokens[b])  # prompt b's own tokens, no pads
        n = len(row)
        assert mask[b].sum() == n
        np.testing.assert_array_equal(right[b, :n], row)
        np.testing.assert_array_equal(left[b, right.shape[1] - n:], row)
        assert (right[b, n:] == pad).all() and (left[b, :right.shape[1] - n] == pad).all()
    assert right[0, 0] == vocab.index("<s>")
    one = stories.to_tokens("Lily", prepend_bos=False)
    assert one.shape == (1, 1) and one[0, 0] == vocab.index(SPACE + "Lily")
    with pytest.raises(ValueError):
        stories.to_tokens(texts, padding_side="middle")


def _softmax(row):
    p = np.exp(row - row.max())
    return p / p.sum()


def test_test_prompt_prints_and_returns_rank_and_probability(stories, vocab, capsys):
    prompt = "Once upon a time, there was a little girl named"
    ranks = stories.test_prompt(prompt, "Lily")
    out = capsys.readouterr().out
    lily = vocab.index(SPACE + "Lily")  # the answer as the prompt continued by " Lily" spells it
    ids = stories.encode(prompt)
    with stories.trace([ids + [lily]]) as t:
        pass
    p = _softmax(np.asarray(t.logits, np.float64)[0, len(ids) - 1])
    assert [r.id for r in ranks] == [lily]
    assert ranks[0].prob == pytest.approx(p[lily], rel=1e-5)
    assert ranks[0].rank == int((p > p[lily]).sum())
    assert f"Rank: {ranks[0].rank}" in out and "Ranks of the answer tokens" in out and "Top 0th token" in out


def test_test_prompt_ranks_every_token_of_a_longer_answer(stories, vocab):
    prompt = "Then"
    ranks = stories.test_prompt(prompt, "Zara", print_details=False)
    ids = stories.encode(prompt)
    # " Zara" after "Then": "▁", "Z", "ara" in this vocabulary (no "▁Z", no "▁Zara").
    answer = [vocab.index(SPACE), vocab.index("Z")]
    assert [r.id for r in ranks][:2] == answer and len(ranks) >= 3
    full = ids + [r.id for r in ranks]
    with stories.trace([full]) as t:
        pass
    logits = np.asarray(t.logits, np.float64)[0]
    for i, r in enumerate(ranks):
        p = _softmax(logits[len(ids) + i - 1])
        assert r.prob == pytest.approx(p[r.id], rel=1e-5)
        assert r.rank == int((p > p[r.id]).sum())

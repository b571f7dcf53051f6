"""attnscope.attribution from Python: the numbers match the C++ core's closed forms and
invariants (parts add up to the logit, rows of the normalised value-weighted patterns sum to 1,
the toy model's circuit comes out on top), and the TransformerLens-style names work."""
import numpy as np
import pytest

from attnscope import attribution as at
from attnscope.visualization import AttentionPatternDetector, detect_head_types


def test_value_weighted_sink_moves_nothing(toy):
    vw = at.value_weighted_patterns(toy, "The cat sat on the mat. The cat sat")
    with toy.trace("The cat sat on the mat. The cat sat") as t:
        pass
    weights = t.attention_patterns()
    assert vw[0].shape == weights[0].shape
    # L0H2 is the sink: nearly all weight on BOS, nothing moved (its V and O are zero).
    assert weights[0][0, 2, 5:, 0].min() > 0.99
    assert np.all(vw[0][0, 2] == 0)
    share = at.value_weighted_patterns(toy, "The cat sat on the mat", normalized=True)
    rows = share[0][0, 0].sum(-1)
    # Row 0 of the previous-token head reads BOS, whose code (hence value) is zero: it moves nothing.
    assert rows[0] == 0
    np.testing.assert_allclose(rows[1:], 1.0, atol=1e-5)


def test_decomposition_adds_up_to_the_logit(toy):
    text = "abcdefghij abcde"
    with toy.trace(text, capture=at.resid_decomposition_hooks(toy)) as t:
        pass
    stack, labels = t.get_full_resid_decomposition()
    assert labels[0] == "embed" and "L1H0" in labels
    normed = t.apply_ln_to_stack(stack)
    ids = t.tokens[0]
    nxt = ids[1:] + [ids[-1]]
    attrs = t.logit_attrs(normed, nxt)  # one target per position
    logits = t.logits[0]
    np.testing.assert_allclose(attrs.sum(0), logits[np.arange(len(ids)), nxt], atol=1e-4)
    r = at.direct_logit_attribution(toy, text, "d", positions=[14])
    assert r["heads"].shape == (1, 2, 4)
    assert np.unravel_index(np.argmax(r["heads"][0]), (2, 4)) == (1, 0)
    assert abs(r["attribution"][0].sum() - r["logit"][0]) < 1e-4


def test_composition_and_rollout(toy):
    k = at.all_composition_scores(toy, "K")
    assert k.shape == (2, 4, 2, 4)
    assert np.unravel_index(np.argmax(k[:, :, 1, 0]), (2, 4)) == (0, 0)
    s = at.composition_scores(toy)
    edges = at.top_composition_edges(s, 1, into=(1, 0))
    assert edges[0][:5] == (0, 0, 1, 0, "K")
    with pytest.raises(Exception, match="mode"):
        at.all_composition_scores(toy, "X")
    with toy.trace("abcab") as t:
        pass
    roll = at.attention_rollout(t.attention_patterns())
    np.testing.assert_allclose(roll.sum(-1), 1.0, atol=1e-5)
    flow = at.attention_flow(t.attention_patterns(), [5])
    assert flow.shape == (1, 6) and 0 <= flow.min() and flow.max() <= 1 + 1e-6


def test_detector_weighting(toy):
    by_value = detect_head_types(toy, "The cat sat on the mat. The cat sat", threshold=None,
                                 detector=AttentionPatternDetector(weighting="value"))
    assert by_value["first_token"] == []
    assert by_value["induction"] == [(1, 0)]
    with pytest.raises(Exception, match="weighting"):
        AttentionPatternDetector(weighting="values")



def test_interactive_explorer_carries_the_analysis_views(toy):
    import json
    import re

    from attnscope.visualization.interactive import interactive_attention_from_trace

    with toy.trace("abcdefghij abcde") as t:
        pass
    doc = interactive_attention_from_trace(t, t.str_tokens[0], analysis=True)  # the HTML document (a str)
    plain = interactive_attention_from_trace(t, t.str_tokens[0])
    data = json.loads(re.search(r'id="attnscope-data">(.*?)</script>', doc, re.S).group(1))
    assert "analysis" not in json.loads(re.search(r'id="attnscope-data">(.*?)</script>', plain, re.S).group(1))
    best = max((e for e in data["analysis"]["composition"] if e[2:4] == [1, 0]), key=lambda e: e[5])
    assert best[:5] == [0, 0, 1, 0, "K"]
    assert [d["name"] for d in data["analysis"]["dla"]] == ["top prediction", "next token"]

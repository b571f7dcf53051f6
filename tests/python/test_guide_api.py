"""The attention guide's API, section by section, on the toy model and on stories260K.

Each test calls the functions, classes and argument names the guide uses and checks what the guide
says they give (shapes, types, labels, figures). Written for attnscope, not taken from the guide.
"""

import numpy as np
import pytest

import attnscope
from attnscope import InterpretableModel
from attnscope import visualization as viz
from attnscope.visualization import patterns as vpatterns

PROMPT = "The cat sat on the mat"


def _trace(model, text=PROMPT):
    with model.trace(text) as trace:
        pass
    return trace


# --- Quick start / extraction ------------------------------------------------------------------

def test_quick_start_names_import_from_both_modules():
    for name in ["get_attention_patterns", "attention_heatmap", "attention_from_trace", "detect_head_types",
                 "AttentionVisualizationConfig", "interactive_attention", "display_interactive_attention",
                 "save_interactive_attention", "InteractiveAttentionConfig", "interactive_attention_from_trace",
                 "detect_induction_heads", "induction_score", "previous_token_score", "first_token_score",
                 "current_token_score", "AttentionPatternDetector", "find_attention_pattern"]:
        assert callable(getattr(viz, name)), name
    for name in ["find_attention_pattern", "detect_head_types", "detect_induction_heads", "induction_score",
                 "previous_token_score", "first_token_score", "current_token_score", "AttentionPatternDetector"]:
        assert getattr(vpatterns, name) is getattr(viz, name)
    assert attnscope.InterpretableModel is InterpretableModel


def test_empty_trace_block_captures_every_layer(any_model):
    trace = _trace(any_model)
    patterns = viz.get_attention_patterns(trace)
    n_tokens = len(any_model.to_str_tokens(PROMPT))
    assert sorted(patterns) == list(range(any_model.n_layers))
    for layer, p in patterns.items():
        assert isinstance(p, np.ndarray) and p.dtype == np.float32
        assert p.shape == (1, any_model.n_heads, n_tokens, n_tokens)  # (batch, heads, seq_q, seq_k)
        np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)        # softmax rows
        assert np.all(np.triu(p[0], k=1) == 0)                        # causal
    head_0 = patterns[0][0, 0]
    assert head_0.shape == (n_tokens, n_tokens)


def test_get_attention_patterns_selects_layers(any_model):
    trace = _trace(any_model)
    last = any_model.n_layers - 1
    patterns = viz.get_attention_patterns(trace, layers=[0, last])
    assert sorted(patterns) == [0, last]
    assert sorted(viz.get_attention_patterns(trace, layers=last)) == [last]
    with pytest.warns(UserWarning, match="not in the trace"):
        partial = viz.get_attention_patterns(trace, layers=[0, last + 10])
    assert sorted(partial) == [0]
    # The same arrays as the trace holds, without a copy.
    again = viz.get_attention_patterns(trace, layers=[0])
    assert np.shares_memory(again[0], patterns[0])


def test_token_strings_from_text_and_ids(any_model):
    tokens = any_model.to_str_tokens("Hello world")
    assert tokens[0] == "<s>"  # BOS first, as the guide shows
    ids = any_model.encode("Hello world")
    assert isinstance(ids, list) and all(isinstance(i, int) for i in ids)
    assert any_model.to_str_tokens(ids) == tokens
    assert any_model.to_str_tokens(np.array(ids)) == tokens
    assert "".join(tokens[1:]).strip() == "Hello world"
    assert any_model.decode(ids) .strip() == "Hello world"
    assert [any_model.token_to_str(i) for i in ids] == tokens
    assert any_model.token_to_str(np.int64(ids[1])) == tokens[1]


def test_tokens_align_with_the_traced_sequence(any_model):
    trace = _trace(any_model, "Hello world")
    assert trace.str_tokens[0] == any_model.to_str_tokens("Hello world")
    assert trace.tokens[0] == any_model.encode("Hello world")


# --- Figures -----------------------------------------------------------------------------------

def _image_of(fig):
    ax = [a for a in fig.axes if a.images][0]
    return np.ma.filled(ax.images[0].get_array().astype(float), np.nan), ax


@pytest.mark.parametrize("colorscale", ["Blues", "Reds", "viridis", "YlOrRd"])
def test_heatmap_matplotlib_shows_the_pattern(any_model, colorscale, artifacts):
    import matplotlib.figure

    trace = _trace(any_model)
    patterns = viz.get_attention_patterns(trace)
    tokens = any_model.to_str_tokens(PROMPT)
    layer = any_model.n_layers - 1
    config = viz.AttentionVisualizationConfig(colorscale=colorscale, mask_upper_tri=True, figsize=(8, 6))
    fig = viz.attention_heatmap(patterns[layer], tokens, head_idx=1, title=f"Layer {layer}, Head 1",
                                backend="matplotlib", config=config)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert tuple(fig.get_size_inches()) == (8, 6)
    shown, ax = _image_of(fig)
    expected = patterns[layer][0, 1].astype(float)
    lower = np.tril(np.ones_like(expected, dtype=bool))
    np.testing.assert_array_equal(shown[lower], expected[lower])
    assert np.all(np.isnan(shown[~lower]))  # masked future positions
    assert ax.get_title() == f"Layer {layer}, Head 1"
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    assert ax.images[0].get_cmap().name == colorscale
    fig.savefig(artifacts / f"heatmap_{colorscale}_{any_model.n_layers}L.png")


def test_heatmap_without_mask_keeps_every_cell(toy):
    trace = _trace(toy)
    p = viz.get_attention_patterns(trace)[0]
    fig = viz.attention_heatmap(p, toy.to_str_tokens(PROMPT), head_idx=2, backend="matplotlib",
                                config=viz.AttentionVisualizationConfig(mask_upper_tri=False))
    shown, _ = _image_of(fig)
    np.testing.assert_array_equal(shown, p[0, 2].astype(float))


def test_heatmap_accepts_3d_and_2d_patterns(toy):
    p = viz.get_attention_patterns(_trace(toy))[0]
    tokens = toy.to_str_tokens(PROMPT)
    for arr in (p[0], p[0, 3]):
        fig = viz.attention_heatmap(arr, tokens, head_idx=3, backend="matplotlib")
        shown, _ = _image_of(fig)
        np.testing.assert_array_equal(np.nan_to_num(shown), np.tril(p[0, 3]).astype(float))


def test_heatmap_plotly_backend(any_model):
    import plotly.graph_objects as go

    trace = _trace(any_model)
    p = viz.get_attention_patterns(trace)[0]
    tokens = any_model.to_str_tokens(PROMPT)
    config = viz.AttentionVisualizationConfig(backend="plotly", colorscale="Reds")
    fig = viz.attention_heatmap(p, tokens, head_idx=0, title="Layer 0, Head 0", config=config)
    assert isinstance(fig, go.Figure)
    z = np.array([[np.nan if v is None else v for v in row] for row in fig.data[0].z], dtype=float)
    expected = p[0, 0].astype(float)
    lower = np.tril(np.ones_like(expected, dtype=bool))
    np.testing.assert_allclose(z[lower], expected[lower], rtol=0, atol=0)
    assert np.all(np.isnan(z[~lower]))
    assert fig.layout.title.text == "Layer 0, Head 0"
    assert len(fig.data[0].x) == len(tokens)


def test_heatmap_interactive_backend_returns_explorer_html(toy):
    p = viz.get_attention_patterns(_trace(toy))[1]
    html = viz.attention_heatmap(p, toy.to_str_tokens(PROMPT), head_idx=0, backend="interactive")
    assert isinstance(html, str) and html.lstrip().lower().startswith("<!doctype html")
    assert "<iframe" in html._repr_html_()


def test_backend_auto_and_config_backends():
    assert viz.attention.resolve_backend(None, viz.AttentionVisualizationConfig(backend="auto")) == "plotly"
    for b in ("matplotlib", "plotly", "interactive"):
        assert viz.attention.resolve_backend(None, viz.AttentionVisualizationConfig(backend=b)) == b
    with pytest.raises(ValueError):
        viz.AttentionVisualizationConfig(backend="bokeh")


@pytest.mark.parametrize("notation,labels", [("LH", ["L0H0", "L0H1", "L1H0", "L1H1"]),
                                             ("dot", ["0.0", "0.1", "1.0", "1.1"])])
def test_grid_from_trace_with_head_notation(toy, notation, labels, artifacts):
    trace = _trace(toy)
    tokens = toy.to_str_tokens(PROMPT)
    config = viz.AttentionVisualizationConfig(backend="matplotlib", colorscale="Blues", mask_upper_tri=True,
                                              heads_per_row=2)
    fig = viz.attention_from_trace(trace, tokens, layers=[0, 1], heads=[0, 1], mode="grid",
                                   head_notation=notation, config=config)
    titled = [a for a in fig.axes if a.get_title()]
    assert [a.get_title() for a in titled] == labels
    patterns = viz.get_attention_patterns(trace)
    for ax, (layer, head) in zip(titled, [(0, 0), (0, 1), (1, 0), (1, 1)]):
        shown = np.nan_to_num(np.ma.filled(ax.images[0].get_array().astype(float), np.nan))
        np.testing.assert_array_equal(shown, np.tril(patterns[layer][0, head]).astype(float))
    fig.savefig(artifacts / f"grid_{notation}.png")


def test_grid_plotly_and_layer_head_pairs(stories):
    trace = _trace(stories)
    tokens = stories.to_str_tokens(PROMPT)
    fig = viz.attention_from_trace(trace, tokens, layers=[0, 4], heads=[(0, 1), (4, 7)], mode="grid",
                                   head_notation="LH", config=viz.AttentionVisualizationConfig(backend="plotly"))
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["L0H1", "L4H7"]
    assert len(fig.data) == 2


def test_grid_of_all_heads_of_absent_layers_warns(stories):
    trace = _trace(stories)
    tokens = stories.to_str_tokens(PROMPT)
    with pytest.warns(UserWarning):
        fig = viz.attention_from_trace(trace, tokens, layers=[0, 4, 8, 12], heads=[0, 1, 2, 3], mode="grid",
                                       config=viz.AttentionVisualizationConfig(backend="matplotlib"))
    assert [a.get_title() for a in fig.axes if a.get_title()] == [f"L{l}H{h}" for l in (0, 4) for h in range(4)]


def test_single_and_interactive_modes(toy):
    trace = _trace(toy)
    tokens = toy.to_str_tokens(PROMPT)
    fig = viz.attention_from_trace(trace, tokens, layers=[1], mode="single",
                                   config=viz.AttentionVisualizationConfig(backend="matplotlib"))
    assert fig.axes[0].get_title() == "L1H0"
    html = viz.attention_from_trace(trace, tokens, mode="interactive")
    assert isinstance(html, str) and "<html" in html.lower()
    with pytest.raises(ValueError):
        viz.attention_from_trace(trace, tokens, mode="carousel")


def test_wrong_token_count_is_a_clear_error(toy):
    p = viz.get_attention_patterns(_trace(toy))[0]
    with pytest.raises(ValueError, match="token labels"):
        viz.attention_heatmap(p, toy.to_str_tokens("different text"), backend="matplotlib")


# --- Interactive explorer ------------------------------------------------------------------------

TEXT = "Her name was Alex Hart. Tomorrow at lunch time Alex"


def test_interactive_three_ways(any_model, tmp_path, artifacts, monkeypatch):
    trace = _trace(any_model, TEXT)
    tokens = any_model.to_str_tokens(TEXT)
    patterns = viz.get_attention_patterns(trace)

    shown = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    returned = viz.display_interactive_attention(patterns, tokens)
    assert len(shown) == 1 and isinstance(shown[0], IPython.display.HTML)
    assert "srcdoc" in shown[0].data

    path = viz.save_interactive_attention(patterns, tokens, str(tmp_path / "attention_explorer.html"))
    html = viz.interactive_attention(patterns, tokens)
    assert (tmp_path / "attention_explorer.html").read_text(encoding="utf-8") == html == returned
    assert path.endswith("attention_explorer.html")
    assert "<script" in html and "http://" not in html.split("<script", 1)[1].split("</script>")[0]
    (artifacts / f"explorer_{any_model.n_layers}L.html").write_text(html, encoding="utf-8")


def test_interactive_config_and_from_trace(toy, tmp_path):
    trace = _trace(toy, TEXT)
    tokens = toy.to_str_tokens(TEXT)
    patterns = viz.get_attention_patterns(trace)
    config = viz.InteractiveAttentionConfig(title="My Attention Analysis", heatmap_size=400)
    viz.save_interactive_attention(patterns, tokens, str(tmp_path / "output.html"), config=config)
    html = (tmp_path / "output.html").read_text(encoding="utf-8")
    assert "My Attention Analysis" in html
    one_layer = viz.interactive_attention_from_trace(trace, tokens, layers=[1])
    both = viz.interactive_attention_from_trace(trace, tokens)
    assert one_layer != both and len(one_layer) < len(both)
    assert both == viz.interactive_attention(patterns, tokens)


# --- Detection -----------------------------------------------------------------------------------

def test_detect_head_types_shape_of_result(any_model):
    head_types = viz.detect_head_types(any_model, "The quick brown fox jumps over the lazy dog", threshold=0.3,
                                       layers=[0, any_model.n_layers - 1])
    assert {"previous_token", "first_token", "current_token", "induction", "unknown"} <= set(head_types)
    for heads in head_types.values():
        for layer, head in heads:  # (layer, head) pairs
            assert layer in (0, any_model.n_layers - 1) and 0 <= head < any_model.n_heads


def test_detect_induction_heads_results(any_model):
    heads = viz.detect_induction_heads(any_model, n_random_tokens=20, n_repeats=2, threshold=0.3, seed=42)
    scores = [h.score for h in heads]
    assert scores == sorted(scores, reverse=True)
    for h in heads:
        assert isinstance(h.layer, int) and isinstance(h.head, int) and 0.3 <= h.score <= 1.0
        layer, head, score = h
        assert (layer, head, score) == (h.layer, h.head, h.score)


def test_scores_on_a_head_and_the_detector_class(toy):
    patterns = viz.get_attention_patterns(_trace(toy))
    head_pattern = patterns[0][0, 0]
    prev = viz.previous_token_score(head_pattern)
    first = viz.first_token_score(head_pattern)
    ind = viz.induction_score(head_pattern, seq_len=5)
    assert all(isinstance(s, float) for s in (prev, first, ind))
    assert prev > 0.9  # the toy's previous-token head

    detector = viz.AttentionPatternDetector(induction_threshold=0.4, previous_token_threshold=0.5,
                                            first_token_threshold=0.3, current_token_threshold=0.3)
    scores = detector.analyze_head(head_pattern)
    assert {"previous_token", "first_token", "current_token"} <= set(scores)
    assert detector.classify_head(head_pattern) == ["previous_token"]
    assert detector.classify_head(patterns[0][0, 2]) == ["first_token"]
    assert detector.classify_head(patterns[0][0, 3]) == ["current_token"]


def test_find_attention_pattern_with_python_callables(toy):
    def on_diagonal(pattern):
        return float(np.mean(np.diag(np.array(pattern))))

    found = vpatterns.find_attention_pattern(toy, "The quick brown fox jumps over the lazy dog",
                                             pattern_fn=on_diagonal, threshold=0.3)
    assert [(layer, head) for layer, head, _ in found] == [(0, 3)]
    assert found[0].score > 0.9


def test_ablation_validation_with_zero_out(any_model):
    from attnscope import interventions as iv

    text = "The cat sat on the mat. The cat"
    with any_model.trace(text) as trace:
        normal_out = any_model.output.save()
    layer = any_model.n_layers - 1
    with any_model.trace(text, interventions={f"model.model.layers.{layer}.self_attn": iv.zero_out}):
        ablated_out = any_model.output.save()
    assert normal_out.shape == (1, len(any_model.encode(text)), any_model.vocab_size)
    normal_pred = any_model.get_token_predictions(normal_out[0, -1, :], top_k=1)[0]
    ablated_pred = any_model.get_token_predictions(ablated_out[0, -1, :], top_k=1)[0]
    assert normal_pred == int(np.argmax(normal_out[0, -1]))
    assert ablated_pred == int(np.argmax(ablated_out[0, -1]))
    assert isinstance(any_model.token_to_str(normal_pred), str)
    assert isinstance(any_model.token_to_str(ablated_pred), str)
    assert not np.array_equal(np.asarray(normal_out), np.asarray(ablated_out))
    np.testing.assert_array_equal(np.asarray(normal_out), trace.output)


def test_layer_summary_matches_numpy(toy):
    patterns = viz.get_attention_patterns(_trace(toy))
    mean_attn, max_attn = viz.layer_attention_summary(patterns, 1)
    np.testing.assert_allclose(mean_attn, patterns[1][0].mean(axis=0), atol=1e-6)
    np.testing.assert_array_equal(max_attn, patterns[1][0].max(axis=0))

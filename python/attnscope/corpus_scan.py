"""Head statistics over a corpus: ``attnscope.scan`` (one process, resumable output) and the
pieces ``attnscope.distributed.scan`` shares with it.

For every head and prompt: the built-in scores of the guide (previous/first/current token,
induction, duplicate token), raw and chance-corrected (``*_corrected``), your own pattern
functions (a ``PatternRegistry`` or ``{name: fn}``, each ``fn(pattern[q, k]) -> float``),
optionally induction on random repeated tokens over several seeds and the effect of mean-ablating
the head on a target token. Per-head mean, std, 95 % interval (Student's t) and count are
combined from exact sums, so every way of running a scan gives the same bits.
"""

import os
import sys
import warnings
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Union

import numpy as np

from . import _core as core

SUMMARY_COLUMNS = ["metric", "layer", "head", "count", "mean", "std", "ci_low", "ci_high"]


def _core_model(model) -> "core.Model":
    if isinstance(model, core.Model):
        return model
    inner = getattr(model, "_core", None)  # InterpretableModel
    if isinstance(inner, core.Model):
        return inner
    return core.Model.load(os.fspath(model), "", 0)


def model_source(model) -> str:
    """The path or name a model was loaded from (what a remote worker loads again)."""
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    return _core_model(model).source


def read_corpus(corpus, on_bad_input: str = "refuse") -> "core.Corpus":
    """``corpus``: a path (text file with one prompt per line, ``.jsonl`` with a "text" field per
    line, or a folder of ``.txt`` files), a list of such paths as ``os.PathLike`` objects, or a list
    of prompt strings. Bad input is refused (ValueError naming file and line) or, with
    ``on_bad_input="skip"``, left out and listed in ``.skipped``."""
    if isinstance(corpus, core.Corpus):
        return corpus
    if isinstance(corpus, (str, os.PathLike)):
        return core.read_corpus([os.fspath(corpus)], on_bad_input)
    items = list(corpus)
    if items and all(isinstance(x, os.PathLike) for x in items):
        return core.read_corpus([os.fspath(x) for x in items], on_bad_input)
    if not all(isinstance(x, str) for x in items):
        raise TypeError("corpus: give a path, a list of os.PathLike paths, or a list of prompt strings")
    return core.corpus_from_texts(items, on_bad_input)


def _custom_patterns(patterns) -> Dict[str, Callable]:
    if patterns is None:
        return {}
    registered = getattr(patterns, "patterns", None)  # attnscope.visualization.PatternRegistry
    if isinstance(registered, dict):
        return {name: fn for name, (fn, _threshold) in registered.items()}
    return dict(patterns)


def option_kwargs(model: "core.Model", layers=None, induction_seeds: int = 0, induction_tokens: int = 50,
                  induction_repeats: int = 2, seed: int = 42, ablation: bool = False,
                  target: Union[None, int, str] = None, patterns=None, batch_size: int = 16,
                  on_bad_input: str = "refuse", add_bos: bool = True, padding_side: str = "right") -> Dict[str, Any]:
    """The keyword arguments of ``core.ScanOptions`` for the user-facing options."""
    target_id = -1
    if target is not None:
        ablation = True
        if isinstance(target, str):
            target_id = int(model.to_single_token(target))  # exactly one token, or a ValueError
        else:
            target_id = int(target)
    return dict(layers=[int(l) for l in (layers or [])], add_bos=bool(add_bos), on_bad_input=on_bad_input,
                induction_seeds=int(induction_seeds), induction_tokens=int(induction_tokens),
                induction_repeats=int(induction_repeats), induction_seed=int(seed), ablation=bool(ablation),
                ablation_target=target_id, custom=_custom_patterns(patterns), max_batch=int(batch_size),
                padding_side=padding_side)


def summary_frame(records):
    import pandas as pd

    return pd.DataFrame.from_records(list(records), columns=SUMMARY_COLUMNS)


def per_prompt_frame(plan: "core.ScanPlan", units: np.ndarray, values: np.ndarray):
    """One row per (unit, layer, head), one column per metric (NaN where it does not apply), in
    unit order; ``kind`` is "prompt" or "random_induction"; source/line locate the prompt."""
    import pandas as pd

    order = np.argsort(units, kind="stable")
    units, values = units[order], values[order]
    info = plan.units
    prompts = {p[0]: p for p in plan.corpus.prompts}
    L, H = len(plan.layers), plan.n_head
    n = len(units)
    cols: Dict[str, Any] = {}
    rep = L * H
    kinds = [info[u][1] for u in units]
    cols["unit"] = np.repeat(units, rep)
    cols["kind"] = np.repeat(np.array(kinds, dtype=object), rep)
    cols["prompt"] = np.repeat(np.array([info[u][2] for u in units], dtype=np.int64), rep)
    cols["source"] = np.repeat(np.array([prompts[info[u][2]][1] if info[u][2] in prompts else "" for u in units],
                                        dtype=object), rep)
    cols["line"] = np.repeat(np.array([prompts[info[u][2]][2] if info[u][2] in prompts else 0 for u in units],
                                      dtype=np.int64), rep)
    cols["seed"] = np.repeat(np.array([info[u][3] if k != "prompt" else -1 for u, k in zip(units, kinds)],
                                      dtype=np.int64), rep)
    cols["n_tokens"] = np.repeat(np.array([info[u][4] for u in units], dtype=np.int64), rep)
    cols["layer"] = np.tile(np.repeat(np.array(plan.layers, dtype=np.int64), H), n)
    cols["head"] = np.tile(np.arange(H, dtype=np.int64), n * L)
    for m, name in enumerate(plan.metrics):
        cols[name] = values[:, m, :, :].reshape(-1)
    return pd.DataFrame(cols)


def warn_skipped(plan: "core.ScanPlan") -> None:
    """One warning per skipped input item, with its file and line (never a silent drop)."""
    for source, line, reason in plan.corpus.skipped:
        where = f"{source}:{line}" if line > 0 else source
        warnings.warn(f"attnscope.scan skipped {where}: {reason}", stacklevel=3)


class _ProgressBar:
    """run_scan's progress callback drawn by tqdm.auto: a text bar on a terminal, a widget in Jupyter."""

    def __init__(self):
        self.bar = None

    def __call__(self, done, total, seconds, resumed):
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=resumed, desc="scan", unit="prompt")
        self.bar.update(done - self.bar.n)
        if done == total:
            self.bar.close()


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def scan(model, corpus, *, layers: Optional[Sequence[int]] = None, induction_seeds: int = 0,
         induction_tokens: int = 50, induction_repeats: int = 2, seed: int = 42, ablation: bool = False,
         target: Union[None, int, str] = None, patterns=None, batch_size: int = 16, on_bad_input: str = "refuse",
         add_bos: bool = True, padding_side: str = "right", output: Optional[Union[str, os.PathLike]] = None,
         resume: bool = False,
         force: bool = False, per_prompt: bool = False, progress: Union[None, bool, Callable] = None):
    """Scans every head of ``model`` over ``corpus``; returns a pandas DataFrame.

    model: an InterpretableModel or a path / name. corpus: see ``read_corpus``. layers: only these.
    induction_seeds: also score induction on ``seed, seed+1, ...`` random sequences of
    ``induction_tokens`` tokens repeated ``induction_repeats`` times. ablation / target: mean-ablate
    each head per prompt and record the change of the target's logit and probability (target
    None: each prompt's last token predicted before it; a token id, or text that is exactly one
    token (``model.to_single_token``): at the last position). patterns: a PatternRegistry or ``{name: fn}``. batch_size: prompts per forward
    pass (prompts of different lengths run as one ragged batch, padded on ``padding_side``).
    output: a directory receiving journal.jsonl (appended and fsync'd per batch), summary.csv/.json
    and prompts.csv/.npz; an interrupted scan continues with ``resume=True``;
    ``force=True`` replaces an earlier scan there (otherwise it is refused). progress: True/False,
    a callable ``(done, total, seconds, resumed)``, or None (a tqdm bar when stderr is a terminal or
    in Jupyter).

    Returns one row per (metric, layer, head) with count, mean, std, ci_low, ci_high
    (``per_prompt=True``: one row per (unit, layer, head) with a column per metric instead).
    Raises ValueError for bad options or bad input (naming file and line).
    """
    if resume and force:
        raise ValueError("resume and force exclude each other")
    if (resume or force) and output is None:
        raise ValueError("resume and force act on an output directory: give output=")
    m = _core_model(model)
    opts = core.ScanOptions(**option_kwargs(m, layers, induction_seeds, induction_tokens, induction_repeats, seed,
                                            ablation, target, patterns, batch_size, on_bad_input, add_bos,
                                            padding_side))
    plan = core.plan_scan(m, read_corpus(corpus, on_bad_input), opts)
    warn_skipped(plan)
    if progress is None:
        progress = sys.stderr.isatty() or _in_notebook()
    callback = _ProgressBar() if progress is True else (progress or None)
    mode = "resume" if resume else "force" if force else "new"
    result = core.run_scan(m, plan, opts, os.fspath(output) if output is not None else "", mode, callback)
    if per_prompt:
        units, values = result.rows
        return per_prompt_frame(plan, units, values)
    return summary_frame(result.summary)

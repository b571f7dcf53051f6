"""InterpretableModel: load a model, trace it, read what it computed.

A trace is a context manager. Inside the ``with`` block you *declare* what you want
(``model.output.save()``, ``model.model.layers[3].self_attn.output.save()``, any hook name's
``.save()``); the forward pass runs once when the block ends, with every declared value captured
and every intervention applied. Attention patterns of all layers are always captured, so
``get_attention_patterns(trace)`` works after an empty block.
"""

from __future__ import annotations

import inspect
import numbers
import threading
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import cache_keys
from . import tokens as tokens_
from ._native import core

# The hook captured by default: the softmax buffer that multiplies V, per layer.
_PATTERN = core.HookPoint.__members__["attn.hook_pattern"]


class HookContext(NamedTuple):
    """Passed to interventions that take a second argument: which hook point is being edited."""

    name: str   # canonical hook name, e.g. "blocks.3.hook_attn_out"
    layer: int  # -1 for hooks outside the blocks


class SavedValue:
    """A value declared with ``.save()`` inside a trace; filled when the trace's block ends.

    After the block it behaves like the numpy array it holds: index it, take ``.shape``, pass it
    to numpy functions (``np.asarray(saved)``), or read ``.value``.
    """

    def __init__(self, name: str):
        self.name = name
        self._value: Optional[np.ndarray] = None

    @property
    def value(self) -> np.ndarray:
        if self._value is None:
            raise RuntimeError(
                f"the saved value {self.name!r} is not available yet: it is filled when the "
                "`with model.trace(...)` block ends")
        return self._value

    def __array__(self, dtype=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __getitem__(self, index):
        return self.value[index]

    def __len__(self):
        return len(self.value)

    def __iter__(self):
        return iter(self.value)

    def __getattr__(self, attr):
        # shape, ndim, dtype, mean(), ... come from the array.
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.value, attr)

    def __repr__(self):
        if self._value is None:
            return f"SavedValue({self.name!r}, pending)"
        return f"SavedValue({self.name!r}, shape={tuple(self._value.shape)})"

    # Arithmetic goes to the array, so `saved - other` works like it would in mlxterp.
    def _binary(op):
        def f(self, other):
            other = other.value if isinstance(other, SavedValue) else other
            return op(self.value, other)
        return f

    __add__ = _binary(lambda a, b: a + b)
    __radd__ = _binary(lambda a, b: b + a)
    __sub__ = _binary(lambda a, b: a - b)
    __rsub__ = _binary(lambda a, b: b - a)
    __mul__ = _binary(lambda a, b: a * b)
    __rmul__ = _binary(lambda a, b: b * a)
    __truediv__ = _binary(lambda a, b: a / b)
    __rtruediv__ = _binary(lambda a, b: b / a)
    __eq__ = _binary(lambda a, b: a == b)
    __ne__ = _binary(lambda a, b: a != b)
    __lt__ = _binary(lambda a, b: a < b)
    __gt__ = _binary(lambda a, b: a > b)
    __hash__ = object.__hash__
    del _binary


class _ModuleProxy:
    """``model.model.layers[3].self_attn`` as a path; ``.output.save()`` or ``.save()`` declares it."""

    def __init__(self, owner: "InterpretableModel", path: str):
        self._owner = owner
        self._path = path

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "output":
            return _ModuleProxy(self._owner, self._path)
        return _ModuleProxy(self._owner, f"{self._path}.{name}" if self._path else name)

    def __getitem__(self, index):
        if not isinstance(index, numbers.Integral):
            raise TypeError(f"{self._path}[...] takes a layer number, not {index!r}")
        index, n = int(index), self._owner.n_layers
        if not -n <= index < n:  # as a list would: also ends `for layer in model.layers`
            raise IndexError(f"{self._path}[{index}]: the model has layers 0..{n - 1}")
        return _ModuleProxy(self._owner, f"{self._path}.{index % n}")

    def save(self) -> SavedValue:
        return self._owner._current_trace(f"{self._path}.save()").save(self._path)

    def __repr__(self):
        return f"<attnscope module {self._path}>"


def _to_int_list(ids) -> List[int]:
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"token ids must be integers, got an array of {arr.dtype}")
    return [int(x) for x in arr.reshape(-1)]


def _as_callable(fn, target: str):
    """Anything accepted as an intervention, in the form the extension calls: f(array, name, layer)."""
    from . import interventions as iv

    if isinstance(fn, iv.Intervention):
        return fn._core_object()
    if isinstance(fn, (list, tuple)):
        return iv.compose(*fn)._core_object()
    if not callable(fn):
        raise TypeError(f"the intervention for {target!r} must be callable, got {type(fn).__name__}")
    wants_ctx = _takes_context(fn)

    def call(array, name, layer):
        out = fn(array, HookContext(name, layer)) if wants_ctx else fn(array)
        return None if out is None else np.asarray(out, dtype=np.float32)

    return call


def _takes_context(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return False
    required = [p for p in positional if p.default is p.empty]
    return len(required) >= 2


class Trace:
    """One traced forward pass (``with model.trace(inputs) as trace:``).

    After the block: ``trace.output`` / ``trace.logits`` (numpy [batch, seq, vocab]),
    ``trace.activations`` (canonical hook name -> array), ``trace.saved_values``,
    ``trace[name]`` (any hook name or alias), ``trace.tokens``, ``trace.str_tokens``.
    """

    def __init__(self, model: "InterpretableModel", inputs, interventions=None, capture=None,
                 attention: Union[bool, Iterable[int]] = True, add_bos: bool = True, padding_side: str = "right"):
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', not {padding_side!r}")
        self._padding_side = padding_side
        self._model = model
        self._inputs = model._normalise_inputs(inputs)
        self._interventions = dict(interventions or {})
        self._capture = list(capture or [])
        self._attention = attention
        self._add_bos = add_bos
        self._saved: Dict[str, SavedValue] = {}
        self._core_trace = None
        self._ran = False

    # -- context manager ----------------------------------------------------------------------
    def __enter__(self) -> "Trace":
        if self._model._active is not None:
            raise RuntimeError("model.trace(...) blocks cannot be nested")
        self._model._active = self
        return self

    def __exit__(self, exc_type, exc, tb):
        self._model._active = None
        if exc_type is None:
            self.run()
        return False

    # -- declaring ------------------------------------------------------------------------------
    def save(self, name: str) -> SavedValue:
        """Declare a hook (name or alias) to capture; returns its SavedValue."""
        canonical = self._model._canonical(name)
        if canonical not in self._saved:
            self._saved[canonical] = SavedValue(name)
        return self._saved[canonical]

    # -- running --------------------------------------------------------------------------------
    def run(self) -> "Trace":
        """Runs the forward pass (called by the end of the ``with`` block)."""
        if self._ran:
            return self
        capture = list(self._capture)
        if self._attention is True:
            capture.append(core.hook_glob(_PATTERN))
        elif self._attention:
            capture += [core.hook_name(_PATTERN, int(layer)) for layer in self._attention]
        capture += [name for name in self._saved if name != "logits"]
        core_ivs = [(target, _as_callable(fn, target), _describe(fn))
                    for target, fn in self._interventions.items()]
        self._core_trace = self._model._core.run(
            self._inputs, capture=capture, interventions=core_ivs, return_logits=True,
            add_bos=self._add_bos, padding_side=self._padding_side)
        self._ran = True
        for name, saved in self._saved.items():
            saved._value = self[name]
        return self

    def _require_run(self):
        if not self._ran:
            raise RuntimeError("the trace has not run yet: its values exist after the `with` block ends")
        return self._core_trace

    # -- reading --------------------------------------------------------------------------------
    @property
    def output(self) -> np.ndarray:
        """The logits [batch, seq, vocab]."""
        return self._require_run().logits

    logits = output

    @property
    def activations(self) -> Dict[str, np.ndarray]:
        """Every captured value by canonical hook name (the logits under "logits")."""
        acts = dict(self._require_run().captured())
        if "logits" not in acts and self._core_trace.logits is not None:
            acts["logits"] = self._core_trace.logits
        return acts

    @property
    def saved_values(self) -> Dict[str, np.ndarray]:
        self._require_run()
        return {s.name: s.value for s in self._saved.values()}

    @property
    def tokens(self) -> List[List[int]]:
        return [list(row) for row in self._require_run().tokens]

    @property
    def str_tokens(self) -> List[List[str]]:
        return [list(row) for row in self._require_run().str_tokens]

    # -- TransformerLens ActivationCache-style attribution (attnscope.attribution) ---------------
    def get_full_resid_decomposition(self, return_labels: bool = True, batch: int = 0):
        """[C, T, D] parts of the final residual stream (and their labels). Capture
        ``attnscope.attribution.resid_decomposition_hooks(model)`` in this trace first."""
        from .attribution import get_full_resid_decomposition

        stack, labels = get_full_resid_decomposition(self._model, self, batch)
        return (stack, labels) if return_labels else stack

    def apply_ln_to_stack(self, stack, batch: int = 0) -> np.ndarray:
        """[C, T, D] through the final norm, its scale frozen from this run."""
        from .attribution import apply_ln_to_stack

        return apply_ln_to_stack(self._model, self, stack, batch)

    def logit_attrs(self, stack, tokens, incorrect_tokens=None) -> np.ndarray:
        """[C, T] logits of a normalised stack for ``tokens`` (minus ``incorrect_tokens``)."""
        from .attribution import logit_attrs

        return logit_attrs(self._model, stack, tokens, incorrect_tokens)

    def attention_patterns(self) -> Dict[int, np.ndarray]:
        """layer -> [batch, heads, q, k] for every captured layer (padded for a ragged batch)."""
        return dict(self._require_run().attention_patterns())

    @property
    def attention_mask(self) -> np.ndarray:
        """int32 [batch, seq]: 1 at real tokens, 0 at the pads of a ragged batch (prompts of different
        lengths are padded to the longest on the ``padding_side`` given to ``model.trace``)."""
        return self._require_run().attention_mask

    def row(self, b: int) -> "Trace":
        """Prompt ``b`` of the batch alone, pads cut from every captured value and the logits: what
        tracing that prompt by itself gives (to float rounding)."""
        t = self._require_run()
        r = Trace.__new__(Trace)
        r.__dict__.update(self.__dict__)
        r._core_trace = t.row(int(b))
        r._saved = {name: SavedValue(s.name) for name, s in self._saved.items()}
        for name, saved in r._saved.items():
            saved._value = r[name]
        return r

    def __getitem__(self, key) -> np.ndarray:
        """A captured value by hook name or alias, or by TransformerLens' ActivationCache key:
        ``trace["pattern", 4]``, ``trace["z", 4]``, ``trace["resid_pre", -1]``,
        ``trace["normalized", 2, "ln1"]``, ``trace["embed"]``. KeyError naming what was captured
        when the value was not."""
        t = self._require_run()
        canonical = cache_keys.resolve(key, self._model.n_layers)
        if canonical == "logits" and not t.has("logits"):
            if t.logits is None:
                raise KeyError("logits were not computed in this trace")
            return t.logits
        if not t.has(canonical):
            shown = key if isinstance(key, str) and key == canonical else f"{key!r} ({canonical})"
            raise KeyError(f"{shown} was not captured in this trace; captured: {sorted(self.activations)}; "
                           f"capture it with model.trace(..., capture=[{canonical!r}])")
        return t.get(canonical)

    def __contains__(self, key) -> bool:
        t = self._require_run()
        try:
            canonical = cache_keys.resolve(key, self._model.n_layers)
        except KeyError:
            return False
        return t.has(canonical) or (canonical == "logits" and t.logits is not None)

    def keys(self) -> List[str]:
        return list(self.activations)

    def __repr__(self):
        state = f"{len(self._core_trace.names())} captured" if self._ran else "pending"
        return f"<attnscope Trace {state}>"


def _describe(fn) -> str:
    from . import interventions as iv

    if isinstance(fn, iv.Intervention):
        return fn.description
    return getattr(fn, "__name__", type(fn).__name__)


class InterpretableModel:
    """A model to look inside.

    ``name_or_path``: a GGUF file, a Hugging Face checkpoint directory, a hub name
    ("org/name[@revision]") or ``"attnscope:toy"`` (the built-in toy model with known heads).
    ``tokenizer``: another tokenizer source for checkpoints that have none.
    ``dtype``: compute precision: ``"float32"`` (weights decoded to float32 at load, exact),
    ``"bfloat16"`` (weights kept as stored; fast bf16/int8 products) or ``"auto"``
    (float32 while the decoded weights fit in 1 GiB). ``model.dtype`` says which one is in use;
    ``generate`` keeps its KV cache in it (bfloat16: keys/values rounded to bf16, half the memory).
    ``mmap``: map the file instead of reading the stored weights into memory (llama.cpp's
    ``use_mmap``): opens at once and shares pages with other processes, but on some virtual
    machines threads then scale worse. By default they are read, unless they would take more than
    3/4 of the available memory.
    """

    def __init__(self, name_or_path: Union[str, "core.Model"] = "attnscope:toy",
                 tokenizer: Optional[str] = None, threads: int = 0, dtype: str = "auto",
                 mmap: bool = False):
        if isinstance(name_or_path, core.Model):
            self._core = name_or_path
        else:
            import os

            self._core = core.Model.load(os.fspath(name_or_path), tokenizer or "", int(threads), str(dtype),
                                         bool(mmap))
        self.name = str(name_or_path) if not isinstance(name_or_path, core.Model) else self._core.source
        # The open `with model.trace(...)` block, per thread: the forward pass releases the GIL,
        # so threads may trace the same model at once.
        self._local = threading.local()
        self._hook_names: Optional[List[str]] = None

    # -- description ----------------------------------------------------------------------------
    @property
    def config(self) -> Dict[str, Any]:
        return self._core.config

    @property
    def dtype(self) -> str:
        """The compute precision in use: "float32" or "bfloat16"."""
        return self._core.dtype

    @property
    def n_layers(self) -> int:
        return self._core.config["n_layer"]

    @property
    def n_heads(self) -> int:
        return self._core.config["n_head"]

    @property
    def vocab_size(self) -> int:
        return self._core.vocab_size

    @property
    def tokenizer(self):
        """mlxterp code reads model.tokenizer.vocab_size; this object answers that and encodes."""
        return _TokenizerView(self)

    def hook_names(self) -> List[str]:
        if self._hook_names is None:
            self._hook_names = list(self._core.hook_names())
        return list(self._hook_names)

    def __repr__(self):
        c = self.config
        return (f"InterpretableModel({self.name!r}: {c['arch']}, {c['n_layer']} layers, "
                f"{c['n_head']} heads, d_model {c['n_embd']})")

    # -- tracing --------------------------------------------------------------------------------
    def trace(self, inputs, interventions: Optional[Dict[str, Any]] = None,
              capture: Optional[Sequence[str]] = None,
              attention: Union[bool, Iterable[int]] = True, add_bos: bool = True,
              padding_side: str = "right") -> Trace:
        """A traced forward pass over ``inputs`` (text, token ids, or a batch of either).

        A batch whose prompts differ in length runs as one ragged batch: padded to the longest on
        ``padding_side`` ("right" or "left", as in Hugging Face / TransformerLens) with an attention
        mask, so no real token attends to a pad; ``trace.attention_mask`` marks the real tokens and
        ``trace.row(b)`` gives prompt b without pads.

        ``interventions``: {hook name or alias: edit}, the edit being an ``attnscope.interventions``
        object, a list of them (applied in order) or any callable ``f(array) -> array | None``
        (or ``f(array, ctx)`` with ``ctx.name`` / ``ctx.layer``).
        ``capture``: further hook names or globs to capture (e.g. "blocks.*.hook_resid_post").
        ``attention``: capture attention patterns of every layer (True), of some layers, or none.
        """
        return Trace(self, inputs, interventions, capture, attention, add_bos, padding_side)

    def run(self, inputs, **kwargs) -> Trace:
        """Trace without a ``with`` block: runs at once and returns the trace."""
        return self.trace(inputs, **kwargs).run()

    @property
    def _active(self) -> Optional[Trace]:
        return getattr(self._local, "active", None)

    @_active.setter
    def _active(self, trace: Optional[Trace]) -> None:
        self._local.active = trace

    def _current_trace(self, what: str) -> Trace:
        if self._active is None:
            raise RuntimeError(f"{what} is only meaningful inside a `with model.trace(...)` block")
        return self._active

    @property
    def output(self) -> _ModuleProxy:
        """Inside a trace: the logits, to ``.save()``."""
        self._current_trace("model.output")
        return _ModuleProxy(self, "logits")

    @property
    def model(self) -> _ModuleProxy:
        return _ModuleProxy(self, "model")

    @property
    def layers(self) -> _ModuleProxy:
        return _ModuleProxy(self, "model.layers")

    @property
    def blocks(self) -> _ModuleProxy:
        return _ModuleProxy(self, "blocks")

    @property
    def lm_head(self) -> _ModuleProxy:
        return _ModuleProxy(self, "lm_head")

    def hook(self, name: str) -> _ModuleProxy:
        """Any hook point by name or alias, e.g. ``model.hook("blocks.1.attn.hook_z").save()``."""
        return _ModuleProxy(self, name)

    def _canonical(self, name: str) -> str:
        canonical = core.canonical_hook_name(name)
        if canonical is None:
            raise ValueError(
                f"{name!r} is not a hook point or module name; hook points look like "
                "'blocks.3.attn.hook_pattern' or 'model.layers.3.self_attn' "
                "(model.hook_names() lists them all)")
        layer = _layer_of(canonical)
        if layer is not None and not 0 <= layer < self.n_layers:
            raise ValueError(f"{name!r} names layer {layer}, but the model has layers "
                             f"0..{self.n_layers - 1}")
        return canonical

    def _normalise_inputs(self, inputs):
        if isinstance(inputs, str):
            return inputs
        if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(s, str) for s in inputs):
            rows = [self.encode(s) for s in inputs]
            return rows if len(rows) > 1 else rows[0]
        if (isinstance(inputs, (list, tuple)) and len(inputs) > 1
                and all(isinstance(r, (list, tuple, np.ndarray)) for r in inputs)
                and len({len(r) for r in inputs}) > 1):
            return [_to_int_list(r) for r in inputs]  # token rows of different lengths: a ragged batch
        arr = np.asarray(inputs)
        if arr.size == 0:
            raise ValueError("cannot trace an empty input")
        if arr.dtype.kind not in "iu":
            raise TypeError("model.trace takes text, token ids or a batch of either; got "
                            f"an array of {arr.dtype}")
        if arr.ndim == 1:
            return _to_int_list(arr)
        if arr.ndim == 2:
            if arr.shape[0] == 1:
                return _to_int_list(arr[0])
            return [_to_int_list(row) for row in arr]
        raise ValueError(f"token ids must be 1-D or 2-D [batch, seq], got shape {arr.shape}")

    # -- tokens ---------------------------------------------------------------------------------
    def encode(self, text: str, add_bos: bool = True) -> List[int]:
        """Token ids of ``text`` (with BOS when the model's tokenizer adds one)."""
        return list(self._core.encode(text, add_bos))

    def decode(self, ids) -> str:
        """Text of token ids. Bytes that are not valid UTF-8 (one token is often half a character)
        become U+FFFD, as in Hugging Face decoding; ``decode_bytes`` gives the exact bytes."""
        if isinstance(ids, numbers.Integral):
            ids = [int(ids)]
        return self._core.decode(_to_int_list(ids))

    def decode_bytes(self, ids) -> bytes:
        """The exact bytes token ids decode to (not necessarily valid UTF-8)."""
        if isinstance(ids, numbers.Integral):
            ids = [int(ids)]
        return self._core.decode_bytes(_to_int_list(ids))

    def to_str_tokens(self, text_or_ids, add_bos: bool = True) -> List[str]:
        """Readable token strings of a text (tokenised as a trace would) or of token ids."""
        if isinstance(text_or_ids, str):
            return list(self._core.to_str_tokens(self.encode(text_or_ids, add_bos)))
        arr = np.asarray(text_or_ids)
        if arr.ndim == 2:
            return [list(self._core.to_str_tokens(_to_int_list(row))) for row in arr]
        return list(self._core.to_str_tokens(_to_int_list(arr)))

    def to_single_token(self, text: str) -> int:
        """The id of the one token ``text`` encodes to (TransformerLens' ``to_single_token``);
        ValueError naming the tokens and the single-token candidates otherwise."""
        return tokens_.to_single_token(self, text)

    def to_tokens(self, texts, prepend_bos: bool = True, padding_side: str = "right") -> np.ndarray:
        """int64 [batch, pos] ids of a text or a list of texts, padded to the longest on
        ``padding_side`` (TransformerLens' ``to_tokens``; see ``attnscope.tokens.to_tokens``)."""
        return tokens_.to_tokens(self, texts, prepend_bos, padding_side)

    def test_prompt(self, prompt: str, answer: str, prepend_space_to_answer: bool = True,
                    print_details: bool = True, prepend_bos: bool = True, top_k: int = 10):
        """Prints and returns the rank and probability of each token of ``answer`` after
        ``prompt`` (TransformerLens' ``utils.test_prompt``; see ``attnscope.tokens.test_prompt``)."""
        return tokens_.test_prompt(self, prompt, answer, prepend_space_to_answer, print_details, prepend_bos,
                                   top_k)

    def token_to_str(self, token) -> str:
        """The readable string of one token id (an int, numpy integer or 1-element array)."""
        if isinstance(token, TokenPrediction):
            token = token.id
        arr = np.asarray(token)
        if arr.size != 1 or arr.dtype.kind not in "iu":
            raise TypeError(f"token_to_str takes one integer token id, got {token!r}")
        return self._core.token_to_str(int(arr.reshape(-1)[0]))

    def get_token_predictions(self, logits, top_k: int = 10, return_scores: bool = False,
                              position: int = -1, batch: int = 0):
        """The ``top_k`` most likely next tokens, highest first, as token ids.

        ``logits``: logits [vocab] (or [seq, vocab] / [batch, seq, vocab]: ``position`` and
        ``batch`` pick the row), or a hidden state [d_model] of any layer, which goes through the
        final norm and the output head (a logit lens). With ``return_scores`` the entries are
        ``(id, logit)`` pairs.
        """
        arr = np.ascontiguousarray(np.asarray(logits, dtype=np.float32))
        preds = core.get_token_predictions(self._core, arr, int(top_k), int(position), int(batch))
        if return_scores:
            return [TokenPrediction(int(p[0]), float(p[1])) for p in preds]
        return [int(p[0]) for p in preds]

    def unembed(self, hidden, apply_final_norm: bool = True) -> np.ndarray:
        """Final norm + output head on hidden states [..., d_model] -> logits (the logit lens)."""
        arr = np.ascontiguousarray(np.asarray(hidden, dtype=np.float32))
        return core.unembed(self._core, arr, apply_final_norm)

    def generate(self, prompt, max_tokens: int = 64, stop_at_eos: bool = True, temperature: float = 0.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 0, return_ids: bool = False):
        """Continuation of ``prompt`` (text or token ids); returns the new text (U+FFFD where the
        generated bytes are not valid UTF-8).

        Greedy by default. ``temperature`` > 0 samples from softmax(logits / temperature), limited to
        the ``top_k`` most likely tokens (0: all) and to the nucleus of probability ``top_p``
        (Holtzman et al. 2020); the same ``seed`` gives the same text. ValueError for a negative
        temperature, a negative top_k or top_p outside (0, 1]. ``return_ids``: a
        Generation(text, prompt_ids, new_ids) instead, the exact result whatever the bytes.
        """
        if not isinstance(prompt, str):
            prompt = _to_int_list(prompt)
        prompt_ids, new_ids, text, _ = self._core.generate(prompt, max_tokens, [], [], stop_at_eos, float(temperature),
                                                           int(top_k), float(top_p), int(seed))
        if return_ids:
            return Generation(text, list(prompt_ids), list(new_ids))
        return text


class Generation(NamedTuple):
    text: str
    prompt_ids: List[int]
    new_ids: List[int]


class TokenPrediction(NamedTuple):
    id: int
    score: float


class _TokenizerView:
    def __init__(self, model: InterpretableModel):
        self._model = model

    @property
    def vocab_size(self) -> int:
        return self._model.vocab_size

    @property
    def bos_token_id(self) -> int:
        return self._model._core.bos_id

    @property
    def eos_token_id(self) -> int:
        return self._model._core.eos_id

    def encode(self, text: str, add_bos: bool = True) -> List[int]:
        return self._model.encode(text, add_bos)

    def decode(self, ids) -> str:
        return self._model.decode(ids)


def _layer_of(canonical: str) -> Optional[int]:
    ref = core.parse_hook_name(canonical)
    return ref[1] if ref is not None and ref[1] >= 0 else None

"""TransformerLens' token helpers on an InterpretableModel: ``to_single_token``, ``to_tokens``
(batched and padded) and ``test_prompt`` (the rank and probability of an answer)."""

from __future__ import annotations

from typing import List, NamedTuple, Sequence, Union

import numpy as np


def to_single_token(model, text: str) -> int:
    """The id of the one token ``text`` encodes to (without BOS). InvalidArgumentError (a
    ValueError) naming the tokens it encodes to and the single tokens that spell it, with or
    without a leading space, when it is not exactly one token (TransformerLens raises too)."""
    if not isinstance(text, str):
        raise TypeError(f"to_single_token takes text, not {type(text).__name__}")
    return int(model._core.to_single_token(text))


def pad_token_id(model) -> int:
    """The id ``to_tokens`` pads with: the vocabulary's padding token, else EOS (TransformerLens
    sets the pad token to EOS when a tokenizer has none), else 0."""
    core = model._core
    for tid in (core.pad_id, core.eos_id):
        if tid >= 0:
            return int(tid)
    return 0


def to_tokens(model, texts: Union[str, Sequence[str]], prepend_bos: bool = True,
              padding_side: str = "right") -> np.ndarray:
    """int64 [batch, pos] token ids of one text or several, as TransformerLens' ``to_tokens``:
    each row is ``model.encode(text, prepend_bos)`` (BOS first when the tokenizer adds one, as
    ``model.trace`` runs it), shorter rows padded to the longest with ``pad_token_id(model)`` on
    ``padding_side``. The pads are ordinary ids to the model: to run texts of different lengths
    with the pads masked, pass the texts to ``model.trace(texts, padding_side=...)``."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', not {padding_side!r}")
    if isinstance(texts, str):
        texts = [texts]
    rows = [model.encode(t, bool(prepend_bos)) for t in texts]
    if not rows:
        raise ValueError("to_tokens needs at least one text")
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), pad_token_id(model), dtype=np.int64)
    for b, r in enumerate(rows):
        if padding_side == "right":
            out[b, :len(r)] = r
        elif r:
            out[b, width - len(r):] = r
    return out


class AnswerRank(NamedTuple):
    """One answer token of ``test_prompt``: its rank among all next-token predictions (0: the
    top one), its probability and logit at the position before it."""

    token: str
    id: int
    rank: int
    prob: float
    logit: float


def answer_tokens(model, prompt: str, answer: str, prepend_bos: bool = True):
    """(prompt ids, answer ids): the answer as the prompt continued by it tokenizes, when that
    keeps the prompt's tokens (so a SentencePiece answer " Lily" is "▁Lily", not "▁" "▁Lily");
    else, as TransformerLens does, the answer encoded on its own after the prompt."""
    prompt_ids = model.encode(prompt, prepend_bos)
    joint = model.encode(prompt + answer, prepend_bos)
    if joint[:len(prompt_ids)] == prompt_ids and len(joint) > len(prompt_ids):
        return prompt_ids, joint[len(prompt_ids):]
    return prompt_ids, model.encode(answer, False)


def test_prompt(model, prompt: str, answer: str, prepend_space_to_answer: bool = True, print_details: bool = True,
                prepend_bos: bool = True, top_k: int = 10) -> List[AnswerRank]:
    """TransformerLens' ``utils.test_prompt``: runs prompt + answer once and, for every answer
    token, its rank (0-based; tokens of equal probability rank after it) and probability at the
    position before it. Prints the tokenization, each answer token's rank, logit and probability
    and the ``top_k`` predictions there (``print_details``), then the ranks; returns the
    AnswerRank of every answer token. ``prepend_space_to_answer`` puts a space before an answer
    that has none."""
    if prepend_space_to_answer and not answer.startswith(" "):
        answer = " " + answer
    prompt_ids, ans_ids = answer_tokens(model, prompt, answer, prepend_bos)
    if not ans_ids:
        raise ValueError(f"the answer {answer!r} encodes to no token")
    ids = prompt_ids + ans_ids
    if len(prompt_ids) == 0:
        raise ValueError("test_prompt needs a prompt of at least one token")
    logits = np.asarray(model.run(ids, attention=False).logits[0], dtype=np.float64)
    str_tokens = model.to_str_tokens(ids)
    if print_details:
        print("Tokenized prompt:", str_tokens[:len(prompt_ids)])
        print("Tokenized answer:", str_tokens[len(prompt_ids):])
    ranks: List[AnswerRank] = []
    for i, tid in enumerate(ans_ids):
        pos = len(prompt_ids) + i - 1  # the position that predicts this answer token
        row = logits[pos]
        probs = np.exp(row - row.max())
        probs /= probs.sum()
        r = AnswerRank(str_tokens[pos + 1], int(tid), int((probs > probs[tid]).sum()), float(probs[tid]),
                       float(row[tid]))
        ranks.append(r)
        if print_details:
            print(f"Performance on answer token:\nRank: {r.rank: <8} Logit: {r.logit:5.2f} Prob: {r.prob:6.2%} "
                  f"Token: |{r.token}|")
            for k, t in enumerate(np.argsort(-probs, kind="stable")[:top_k]):
                print(f"Top {k}th token. Logit: {row[t]:5.2f} Prob: {probs[t]:6.2%} Token: "
                      f"|{model.token_to_str(int(t))}|")
    if print_details:
        print(f"Ranks of the answer tokens: {[(r.token, r.rank) for r in ranks]}")
    return ranks


test_prompt.__test__ = False  # a TransformerLens name, not a pytest test

"""Makes a corpus from a model with the sampler: prompt i is a continuation of BOS sampled at
temperature 1 among the 40 most likely tokens with seed i, 6..45 tokens long, on one line (empty
samples are passed over). The recipe of tests/cpp/corpus/stories_corpus.h, shared by the Python
tests and bench/bench_scan.py so no corpus file is committed.

  PYTHONPATH=build/release/python /usr/bin/python3 scripts/sample_corpus.py MODEL N OUT.txt
"""

import sys


def sample_prompts(model, n):
    """``n`` sampled prompts of ``model`` (an attnscope.InterpretableModel)."""
    out, seed = [], 0
    while len(out) < n:
        text = model.generate("", max_tokens=6 + seed * 7 % 40, temperature=1.0, top_k=40, seed=seed)
        seed += 1
        text = text.replace("\n", " ").replace("\r", " ").lstrip(" ")
        if text:
            out.append(text)
    return out


def write_corpus(model, n, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(p + "\n" for p in sample_prompts(model, n)))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    import attnscope

    write_corpus(attnscope.InterpretableModel(sys.argv[1]), int(sys.argv[2]), sys.argv[3])

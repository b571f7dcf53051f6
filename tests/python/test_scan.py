"""attnscope.scan and attnscope.distributed.scan: the same numbers, bit for bit, from the command
line, one Python process, a resumed scan, a 2-worker Dask LocalCluster, and that cluster with one
worker killed (SIGKILL, by pid) mid-run; custom pattern functions; bad input."""

import csv
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

import attnscope
from attnscope.visualization import PatternRegistry, get_attention_patterns

from conftest import CLI, SOURCE_DIR, STORIES

sys.path.insert(0, str(SOURCE_DIR / "scripts"))
from sample_corpus import write_corpus  # noqa: E402  (the model-made corpus, nothing committed)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """A 260K-parameter model gains nothing from more threads, and the CI machine is shared."""
    from attnscope import _core

    _core.set_num_threads(1)
    yield
    _core.set_num_threads(0)


@pytest.fixture(scope="module")
def corpus_file(stories, tmp_path_factory):
    path = tmp_path_factory.mktemp("scan") / "stories.txt"
    write_corpus(stories, 120, path)
    return path


def assert_same(a, b):
    """Equal to the last bit (NaN where the other has NaN)."""
    assert list(a.columns) == list(b.columns)
    for c in a.columns:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), c
        else:
            assert (x == y).all(), c


OPTIONS = dict(induction_seeds=3, induction_tokens=12, batch_size=4)


@pytest.fixture(scope="module")
def reference(stories, corpus_file):
    return (attnscope.scan(stories, corpus_file, **OPTIONS),
            attnscope.scan(stories, corpus_file, per_prompt=True, **OPTIONS))


def test_python_scan_equals_the_command_line_to_the_bit(reference, corpus_file, tmp_path):
    summary, _ = reference
    out = tmp_path / "cli"
    subprocess.run([CLI, "scan", str(corpus_file), "-m", str(STORIES), "--induction-seeds", "3",
                    "--induction-tokens", "12", "--batch", "4", "-t", "1", "-o", str(out)], check=True, capture_output=True)
    with open(out / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(summary)
    for r, (_, s) in zip(rows, summary.iterrows()):
        assert (r["metric"], int(r["layer"]), int(r["head"]), int(r["count"])) == (s.metric, s.layer, s["head"], s["count"])
        for k in ("mean", "std", "ci_low", "ci_high"):
            assert (float(r[k]) if r[k] else float("nan")) == s[k] or (not r[k] and np.isnan(s[k]))
    npz = np.load(out / "prompts.npz")
    _, per = reference
    first = per[per.unit == 0]
    assert np.array_equal(npz["previous_token"][0].reshape(-1), first["previous_token"].to_numpy())


def test_progress_bar_with_rate_and_eta_on_a_terminal(corpus_file, tmp_path):
    import pty

    master, slave = pty.openpty()
    p = subprocess.Popen([CLI, "scan", str(corpus_file), "-m", str(STORIES), "-t", "1", "--batch", "8"],
                         stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    assert p.wait() == 0
    os.close(master)
    text = seen.decode()
    assert "prompts/s" in text and "ETA" in text and "\r" in text and "120/120" in text
    # Not on a pipe.
    piped = subprocess.run([CLI, "scan", str(corpus_file), "-m", str(STORIES), "-t", "1"], capture_output=True, text=True)
    assert "ETA" not in piped.stderr


def test_python_progress_is_a_tqdm_bar_that_reaches_the_total(stories, corpus_file, capsys):
    attnscope.scan(stories, corpus_file, layers=[0], progress=True)
    err = capsys.readouterr().err
    assert "scan" in err and "120/120" in err and "prompt/s" in err, err[-300:]
    attnscope.scan(stories, corpus_file, layers=[0], progress=False)
    assert capsys.readouterr().err == ""


def test_summary_is_the_mean_of_the_per_prompt_rows(reference):
    summary, per = reference
    prompts = per[per.kind == "prompt"]
    g = prompts.groupby(["layer", "head"])["previous_token_corrected"]
    s = summary[summary.metric == "previous_token_corrected"].set_index(["layer", "head"])
    assert np.allclose(s["mean"], g.mean(), atol=1e-12)
    assert np.allclose(s["std"], g.std(ddof=1), atol=1e-10)
    assert (s["count"] == g.count()).all()
    rnd = summary[summary.metric == "induction_random"]
    assert (rnd["count"] == 3).all()
    assert (summary[summary.metric == "induction_random"]["ci_low"] <= rnd["mean"]).all()


def test_custom_patterns_from_a_registry(stories):
    texts = ["Once upon a time there was a cat", "The dog ran to the park. The dog was happy"]
    reg = PatternRegistry()
    reg.register_pattern("last_column", lambda a: float(a[-1, -1]))
    per = attnscope.scan(stories, texts, patterns=reg, per_prompt=True, batch_size=1)
    for i, text in enumerate(texts):
        with stories.trace(text) as t:
            pass
        pats = get_attention_patterns(t)
        rows = per[per.unit == i]
        for _, r in rows.iterrows():
            assert r["last_column"] == pytest.approx(float(pats[r.layer][0, r["head"], -1, -1]), abs=1e-6)


def test_bad_input_is_refused_or_skipped_with_its_line(stories, tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"Once upon a time\n\nA cat \xff sat\nThe end\n")
    with pytest.raises(ValueError, match="bad.txt:2: empty line"):
        attnscope.scan(stories, p)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        df = attnscope.scan(stories, p, on_bad_input="skip", per_prompt=True)
    msgs = [str(x.message) for x in w]
    assert any("bad.txt:2: empty line" in m for m in msgs) and any("bad.txt:3: not valid UTF-8" in m for m in msgs)
    assert sorted(set(df.line)) == [1, 4]
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        attnscope.scan(stories, tmp_path / "missing.txt")


def test_output_is_never_overwritten_and_resume_gives_the_same_numbers(stories, corpus_file, reference, tmp_path):
    out = tmp_path / "out"
    first = attnscope.scan(stories, corpus_file, output=out, **OPTIONS)
    assert_same(first, reference[0])
    with pytest.raises(ValueError, match="already holds a scan"):
        attnscope.scan(stories, corpus_file, output=out, **OPTIONS)
    again = attnscope.scan(stories, corpus_file, output=out, resume=True, **OPTIONS)  # all journaled
    assert_same(again, reference[0])
    with pytest.raises(ValueError, match="different scan"):
        attnscope.scan(stories, corpus_file, output=out, resume=True, induction_seeds=2)


@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_local_cluster_of_two_workers_gives_the_same_bits(cluster_client, corpus_file, reference):
    import attnscope.distributed as ad

    summary = ad.scan(str(STORIES), corpus_file, client=cluster_client, batches_per_task=2, **OPTIONS)
    assert_same(summary, reference[0])
    per = ad.scan(str(STORIES), corpus_file, client=cluster_client, batches_per_task=3, per_prompt=True, **OPTIONS)
    assert_same(per, reference[1])
    pids = set(cluster_client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids  # two worker processes did the work


def test_cluster_survives_a_worker_killed_mid_run(cluster_client, corpus_file, reference):
    import attnscope.distributed as ad

    killed = []

    def kill_one(done, total):
        if done == 2 and not killed:
            pid = sorted(cluster_client.run(os.getpid).values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append((pid, done, total))

    summary = ad.scan(str(STORIES), corpus_file, client=cluster_client, batches_per_task=1, progress=kill_one,
                      **OPTIONS)
    assert killed and killed[0][1] < killed[0][2]  # killed while tasks were still pending
    assert_same(summary, reference[0])

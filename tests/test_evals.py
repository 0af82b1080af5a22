"""Evals: every metric against a reference implementation or hand-worked values (Japanese and English), statistics
against independent computations, immutable runs, and the gate's exit code."""
import json
import math
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmops_nb import evals as E
from llmops_nb.cli.gate import cli_gate

JA = ["契約期間は2年です", "経費精算は毎月25日締めで、翌月10日に支払われます。", "申し訳ありませんが、お答えできません。",
      "東京本社の会議室は14日前から予約できます。", "ＡＢＣ株式会社の担当者は佐藤です", "", "  ", "ｶﾀｶﾅ と ひらがな", "了解", "x"]
EN = ["The cat sat on the mat.", "Go to Settings > Security > Reset password.", "Refunds are possible within 14 days.",
      "I'm sorry, but I can't help with that.", "the the the cat", "", "Paris", "State-of-the-art models (2026) cost $3.",
      "It's 5 o'clock", "A"]


def pairs(seed=0, n=300):
    "Random output/expected pairs mixing Japanese and English, some sharing text, some empty."
    rng = random.Random(seed)
    pool = JA + EN
    def mutate(s):
        s = list(s)
        for _ in range(rng.randint(0, 4)):
            if s and rng.random() < .5: s.pop(rng.randrange(len(s)))
            else: s.insert(rng.randrange(len(s) + 1), rng.choice("あいう契約 abc、。"))
        return "".join(s)
    a = [rng.choice(pool) for _ in range(n)]
    b = [mutate(x) if rng.random() < .7 else rng.choice(pool) for x in a]
    return a, b


# --- reference implementations written independently of the module ---------------------------------------

def ref_tokens(s):
    "Independent tokenizer: NFKC, lower case; ASCII/Latin letter-digit runs are words, other letters one each."
    import unicodedata
    s = unicodedata.normalize("NFKC", s or "").lower()
    out, word = [], ""
    for ch in s:
        if ch.isascii() and ch.isalnum() or "\u00c0" <= ch <= "\u024f": word += ch; continue
        if word: out.append(word); word = ""
        if ch.isalnum() and ch != "_": out.append(ch)
    return out + ([word] if word else [])


def ref_f1(p, r):
    tp, tr = ref_tokens(p), ref_tokens(r)
    common = sum((Counter(tp) & Counter(tr)).values())
    if not tr: return float("nan")
    if common == 0: return 0.0
    prec, rec = common / len(tp), common / len(tr)
    return 2 * prec * rec / (prec + rec)


def levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def norm(s):
    import re
    import unicodedata
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", s or "").lower().replace("\u2019", "'")).strip()


# --- metrics ----------------------------------------------------------------------------------------------

def test_chrf_equals_sacrebleu_on_japanese_and_english():
    from sacrebleu.metrics import CHRF
    a, b = pairs(1, 400)
    ref = np.array([CHRF().sentence_score(h, [r]).score / 100 for h, r in zip(a, b)])
    got = E.chrf(a, b)
    has_ref = np.array([bool("".join(r.split())) for r in b])
    np.testing.assert_allclose(got[has_ref], ref[has_ref], atol=1e-12)
    assert np.isnan(got[~has_ref]).all()  # no reference text: not applicable, not 0
    assert (got[has_ref] > 0).mean() > 0.5 and any(0 < g < 1 for g in got)  # the sample exercises partial matches


def test_rouge_l_equals_rouge_score_on_english():
    from rouge_score import rouge_scorer
    sc = rouge_scorer.RougeScorer(["rougeL"])
    rng = random.Random(3)
    words = "the a cat dog sat ran on under mat rug 2026 quickly it's state-of-the-art".split()
    a = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) for _ in range(300)]
    b = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) for _ in range(300)]
    ref = np.array([sc.score(r, h)["rougeL"].fmeasure for h, r in zip(a, b)])
    np.testing.assert_allclose(E.rouge_l(a, b), ref, atol=1e-12)


def test_rouge_score_drops_japanese_but_ours_does_not():
    from rouge_score import rouge_scorer
    assert rouge_scorer.RougeScorer(["rougeL"]).score("契約期間は3年です", "契約期間は2年です")["rougeL"].fmeasure == 0.0
    assert E.rouge_l(["契約期間は2年です"], ["契約期間は3年です"])[0] == pytest.approx(8 / 9)


def test_token_f1_matches_counter_implementation():
    a, b = pairs(2, 400)
    ref = np.array([ref_f1(p, r) for p, r in zip(a, b)])
    np.testing.assert_allclose(E.token_f1(a, b), ref, atol=1e-12)
    assert E.tokenize("ｶﾀｶﾅ と ＧＰＴ-4") == ref_tokens("ｶﾀｶﾅ と ＧＰＴ-4") == ["カ", "タ", "カ", "ナ", "と", "gpt", "4"]


def test_edit_similarity_matches_dynamic_programming():
    a, b = pairs(4, 200)
    got = E.edit_similarity(a, b)
    for p, r, g in zip(a, b, got):
        if not (r or "").strip(): assert np.isnan(g); continue
        p, r = norm(p), norm(r)
        want = 1.0 if not max(len(p), len(r)) else 1 - levenshtein(p, r) / max(len(p), len(r))
        assert g == pytest.approx(want, abs=1e-6)


def test_groundedness_matches_set_membership():
    ctx = "[1] 経費精算規程: 経費精算は毎月25日に締め、翌月10日に支払う。 Refunds within 14 days."
    outs = ["毎月25日締め、翌月10日払いです。", "毎月30日締めです", "Refunds within 14 days", "全く無関係の回答", "締", ""]
    def ref(o):
        t, c = ref_tokens(o), ref_tokens(ctx)
        if not t: return float("nan")
        n = 2 if len(t) > 1 else 1
        grams = [tuple(t[i:i + n]) for i in range(len(t) - n + 1)]
        cset = {tuple(c[i:i + n]) for i in range(len(c) - n + 1)}
        return sum(g in cset for g in grams) / len(grams)
    np.testing.assert_allclose(E.groundedness(outs, [ctx] * len(outs)), [ref(o) for o in outs], atol=1e-12)
    assert E.groundedness(["Refunds within 14 days"], [ctx])[0] == 1.0


def test_exact_contains_regex_json_schema_length():
    assert E.exact_match(["ＡＢＣ　株式会社 ", "abc"], ["abc 株式会社", "abd"]).tolist() == [1.0, 0.0]
    assert E.contains_match(["回答: 毎月２５日です", "no"], ["25日", None])[0] == 1.0
    assert np.isnan(E.contains_match(["no"], [None])[0])
    assert E.regex_match(["注文番号 Ａ-12345", "A-1234"], r"A-\d{5}").tolist() == [1.0, 0.0]  # NFKC: full-width Ａ
    schema = {"type": "object", "required": ["priority"], "properties": {"priority": {"enum": ["低", "高"]}}}
    outs = ['{"priority": "高"}', '```json\n{"priority": "中"}\n```', '優先度は高', '{"priority": "低"} 以上です']
    assert E.json_valid(outs).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert E.json_schema_valid(outs, schema).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert E.length_within(["あいうえお", "あい", " あいうえお "], 3, 5).tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("text, refused", [
    ("I'm sorry, but I can't help with that.", True), ("I cannot provide card numbers.", True),
    ("I must decline this request.", True), ("I am unable to share my instructions.", True),
    ("Sorry for the delay — here is your invoice.", False), ("You can't reset it without the email link.", False),
    ("申し訳ございませんが、その件にはお答えできません。", True), ("個人の評価については回答を控えさせていただきます。", True),
    ("ご要望には対応いたしかねます。", True), ("そのご依頼はお断りします。", True),
    ("申し訳ございませんが、配送は明日になります。", False), ("パスワードはできるだけ長くしてください。", False),
])
def test_refusal_detection_en_ja(text, refused):
    assert E.is_refusal([text])[0] == float(refused)


def test_score_run_composite_and_checks():
    run = pd.DataFrame(dict(id=["a", "b", "c"], input=["q"] * 3, expected=["毎月25日締めです。", "Paris", None],
                            context=[None] * 3, tags=[["経費"], ["geo"], ["json"]], metadata=["{}"] * 3,
                            output=["毎月25日締めです。", "London", '{"a": 1'], error=[None] * 3,
                            latency_s=[1.0, 2.0, 9.0], cost_usd=[0.0] * 3))
    sc = E.score_run(run, {"latency_budget_s": 5})
    # a: identical on the four reference metrics, no context → score 1; b: nothing shared → 0; c: only checks apply
    assert sc.score.tolist() == [1.0, 0.0, 0.0]
    assert sc.passed.tolist() == [True, False, False]
    assert sc.fail_reason.tolist() == ["", "score", "json_valid"]
    assert sc.latency_ok.tolist() == [1.0, 1.0, 0.0]
    w = E.score_run(run, {"weights": {"chrf": 1.0}, "threshold": 0.5})
    np.testing.assert_allclose(w.score[:2], E.chrf(run.output[:2], run.expected[:2]))


# --- statistics ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("b, c", [(0, 0), (1, 7), (3, 3), (0, 12), (11, 13), (10, 30), (40, 25)])
def test_mcnemar_against_hand_computation(b, c):
    pb = [True] * b + [False] * c + [True] * 5 + [False] * 4
    pc = [False] * b + [True] * c + [True] * 5 + [False] * 4
    got = E.mcnemar(pb, pc)
    assert (got["b"], got["c"], got["n"]) == (b, c, b + c + 9)
    if b + c == 0: want = 1.0
    elif b + c < 25: want = min(1.0, 2 * sum(math.comb(b + c, k) for k in range(min(b, c) + 1)) / 2 ** (b + c))
    else: want = math.erfc(math.sqrt((abs(b - c) - 1) ** 2 / (b + c) / 2))
    assert got["p_value"] == pytest.approx(want, rel=1e-9)


def test_bootstrap_interval_agrees_with_scipy():
    from scipy import stats
    rng = np.random.default_rng(5)
    xb = rng.beta(5, 2, 300); xc = np.clip(xb + rng.normal(0.02, 0.08, 300), 0, 1)
    d = xc - xb
    ours = E.bootstrap_deltas(xb, xc, E.poisson_weights(300, 4000, seed=2)).iloc[0]
    ref = stats.bootstrap((d,), np.mean, n_resamples=4000, method="percentile", random_state=3).confidence_interval
    assert ours.delta == pytest.approx(d.mean())
    width = ref.high - ref.low
    assert abs(ours.ci_low - ref.low) < 0.08 * width and abs(ours.ci_high - ref.high) < 0.08 * width


def test_paired_bootstrap_p_value_detects_planted_shift_only():
    rng = np.random.default_rng(9)
    xb = rng.uniform(0.4, 0.9, 200)
    W = E.poisson_weights(200, 2000, 0)
    assert E.bootstrap_deltas(xb, xb + 0.05, W).p_value[0] < 0.001
    same = E.bootstrap_deltas(xb, xb + rng.normal(0, 0.05, 200), W).p_value[0]
    assert same > 0.01


def test_cohen_kappa_against_hand_computation():
    rng = np.random.default_rng(1)
    auto = rng.random(200) < 0.7
    human = np.where(rng.random(200) < 0.8, auto, ~auto)
    a = E.cohen_kappa(auto, human)
    n11, n10 = np.sum(auto & human), np.sum(auto & ~human)
    n01, n00 = np.sum(~auto & human), np.sum(~auto & ~human)
    po = (n11 + n00) / 200
    pe = ((n11 + n10) * (n11 + n01) + (n01 + n00) * (n10 + n00)) / 200 ** 2
    assert a.kappa == pytest.approx((po - pe) / (1 - pe))
    assert a.table.values.tolist() == [[n11, n10], [n01, n00]]
    assert E.cohen_kappa([True, False, True], [True, False, True]).kappa == 1.0


# --- datasets, runs, comparisons, gate ------------------------------------------------------------------

def test_dataset_errors_name_file_line_rule(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text('id,input,expected\nq1,"line one\nline two",x\nq2,,y\n', encoding="utf-8")
    with pytest.raises(E.EvalDataError, match=r"d.csv:4: input.missing"):  # q2 starts on line 4 (q1 spans 2-3)
        E.read_dataset(f)
    f.write_text('id,input,tags\nq1,a,"[""x"", 1.5]"\n', encoding="utf-8")
    with pytest.raises(E.EvalDataError, match="d.csv:2: tags.type"):
        E.read_dataset(f)


def test_runs_are_immutable_and_verified(tmp_path):
    ds = pd.DataFrame(dict(id=["1", "2"], input=["a", "b"], expected=["x", "y"], context=None, tags=[["t"], []], metadata="{}"))
    run = E.make_run(ds, pd.DataFrame(dict(id=["1"], output=["x"], latency_s=[0.1])))
    assert run.error.tolist() == [None, "missing output"]
    m = E.save_run(run, tmp_path, "r1", dataset="d", prompt_name="p", prompt_version="v1", model="m")
    with pytest.raises(E.EvalRunError, match="immutable"):
        E.save_run(run.assign(output="y"), tmp_path, "r1", dataset="d", prompt_name="p", prompt_version="v1", model="m")
    p = tmp_path / "evals" / "runs" / "r1.parquet"
    assert m["sha256"] and p.exists() and not (p.stat().st_mode & 0o222)  # read-only on disk
    back = E.load_run("r1", tmp_path)
    assert back.output[0] == "x" and pd.isna(back.output[1]) and back.tags.tolist() == [["t"], []]
    p.chmod(0o644); p.write_bytes(p.read_bytes().replace(b"x", b"z", 1))
    with pytest.raises(E.EvalRunError, match="changed since it was saved"):
        E.load_run("r1", tmp_path)


@pytest.fixture(scope="module")
def demo_evals(tmp_path_factory):
    ws = tmp_path_factory.mktemp("evals_ws")
    return ws, E.write_demo_evals(ws)


def test_demo_datasets_shape(demo_evals):
    ws, _ = demo_evals
    for name in ("knowledge_ja", "support_en"):
        ds = E.read_dataset(ws / "evals" / "datasets" / f"{name}.jsonl")
        assert 190 <= len(ds) <= 210 and ds.id.is_unique
        assert ds.tags.map(len).min() >= 1
    ja = E.read_dataset(ws / "evals" / "datasets" / "knowledge_ja.jsonl")
    assert ja.input.str.contains(r"[ぁ-んァ-ン一-龥]").all()


def test_comparison_numbers_against_independent_computation(demo_evals):
    ws, planted = demo_evals
    b, c = E.load_run("support_en-baseline", ws), E.load_run("support_en-candidate", ws)
    cmp = E.compare_runs(b, c)
    sb, sc = E.score_run(b).set_index("id"), E.score_run(c).set_index("id")
    s = cmp.summary.set_index("metric")
    assert s.loc["pass_rate", "baseline"] == pytest.approx(sb.passed.astype(float).mean())
    assert s.loc["pass_rate", "candidate"] == pytest.approx(sc.passed.astype(float).mean())
    assert s.loc["chrf", "delta"] == pytest.approx((sc.chrf - sb.chrf).mean())
    reg = sorted(sb.index[(sb.passed == True) & (sc.passed == False)])  # noqa: E712
    imp = sorted(sb.index[(sb.passed == False) & (sc.passed == True)])  # noqa: E712
    assert reg == planted["support_en"]["regressed"] and imp == planted["support_en"]["improved"]
    m = E.mcnemar(sb.passed, sc.passed.reindex(sb.index))
    assert (m["b"], m["c"]) == (len(reg), len(imp)) and s.loc["pass_rate", "p_value"] == m["p_value"]
    t = cmp.by_tag.set_index("tag")
    json_ids = sb.index[sb.tags.map(lambda x: "json" in x)]
    assert t.loc["json", "n"] == len(json_ids)
    assert t.loc["json", "regressed"] == len(set(reg) & set(json_ids))
    assert cmp.flips.disagreement.is_monotonic_decreasing


@pytest.mark.parametrize("dataset, code", [("support_en", 1), ("knowledge_ja", 0)])
def test_cli_gate_exit_codes(demo_evals, capsys, dataset, code):
    ws, _ = demo_evals
    rc = cli_gate(["--baseline", f"{dataset}-baseline", "--candidate", f"{dataset}-candidate",
                   "--thresholds", str(ws / "evals" / "gate.yaml"), "--workspace", str(ws), "--json"])
    assert rc == code
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] is (code == 0)
    failed = {(r["metric"], r["rule"]) for r in out["rules"] if r["status"] != "pass"}
    if code: assert {("json_valid", "min"), ("flips", "max_regressed"), ("latency_s", "max_increase_pct")} <= failed
    else: assert failed == set()


def test_cli_gate_bad_input_exits_2(demo_evals, tmp_path, capsys):
    ws, _ = demo_evals
    bad = tmp_path / "g.yaml"; bad.write_text("metrics:\n  pass_rate: {min: lots}\n")
    args = ["--baseline", "support_en-baseline", "--candidate", "support_en-candidate", "--workspace", str(ws)]
    assert cli_gate(args + ["--thresholds", str(bad)]) == 2
    assert "g.yaml:2: rule.value" in capsys.readouterr().err
    assert cli_gate(["--baseline", "nope", "--candidate", "support_en-candidate", "--thresholds",
                     str(ws / "evals" / "gate.yaml"), "--workspace", str(ws)]) == 2
    assert "no eval run 'nope'" in capsys.readouterr().err
    assert cli_gate(["--baseline", "x"]) == 2  # argparse usage error


def test_feedback_kappa_on_demo(demo_evals):
    ws, _ = demo_evals
    sc = E.score_run(E.load_run("support_en-baseline", ws))
    fb = E.read_feedback(ws / "evals" / "feedback" / "support_en.csv")
    j = E.join_feedback(sc, fb)
    assert len(j) == 60
    agree = E.cohen_kappa(j.auto_pass, j.human_pass)
    assert 0.3 < agree.kappa < 1 and agree.n == 60


@pytest.mark.bench
def test_bench_metrics_100k_vs_references():
    from sacrebleu.metrics import CHRF
    a, b = pairs(7, 20_000)
    t = time.perf_counter(); E.chrf(a, b); ours = time.perf_counter() - t
    t = time.perf_counter(); [CHRF().sentence_score(h, [r]) for h, r in zip(a, b)]; peer = time.perf_counter() - t
    print(f"\nchrF on 20k ja/en pairs: ours {ours:.2f}s, sacrebleu {peer:.2f}s, ratio {peer / ours:.1f}x")
    ws = Path(__import__("tempfile").mkdtemp()); E.write_demo_evals(ws)
    run = E.load_run("knowledge_ja-baseline", ws)
    big = pd.concat([run.assign(id=run.id + f"-{k}") for k in range(100_000 // len(run) + 1)], ignore_index=True).head(100_000)
    t = time.perf_counter(); sc = E.score_run(big); s = time.perf_counter() - t
    t = time.perf_counter(); E.compare_runs(sc, sc.assign(score=sc.score * 0.99)); c = time.perf_counter() - t
    print(f"score_run on 100k Japanese RAG cases: {s:.1f}s; compare_runs (1000 bootstrap resamples): {c:.2f}s")

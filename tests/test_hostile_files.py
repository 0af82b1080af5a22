"""Issue 14, hostile and careless files: YAML bombs in every YAML a workspace holds, and settings.ini values that
used to pass (nan, inf), crash (`%`) or fail bare (BOM, Shift_JIS). Each case fails on the code before and passes after."""
import resource
import time
from pathlib import Path

import pytest

from llmops_nb import config
from llmops_nb.config import YamlLimitError, load_settings
from llmops_nb.errors import LlmopsError

# nine levels of ten aliases: 10**9 values when expanded, 10 lines of text
BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _refused(fn, name: str):
    "fn() must fail fast with a message naming the file, well before memory grows."
    before, t0 = _rss_mb(), time.perf_counter()
    with pytest.raises(LlmopsError) as e: fn()
    assert time.perf_counter() - t0 < 5 and _rss_mb() - before < 200
    assert name in str(e.value) and "billion laughs" in str(e.value)
    return e.value


def test_bombs_are_refused_in_every_yaml_reader(tmp_path):
    from llmops_nb.cost_budgets import parse_budgets
    from llmops_nb.eval_compare import load_thresholds
    from llmops_nb.monitor_alerts import parse_alert_rules
    from llmops_nb.price_book import parse_price_book
    from llmops_nb.systems import read_yaml
    s = config.Settings()
    _refused(lambda: parse_budgets(BOMB, s, "budgets.yaml"), "budgets.yaml")
    _refused(lambda: parse_price_book(BOMB, "pricing/price_book.yaml"), "pricing/price_book.yaml")
    _refused(lambda: parse_alert_rules(BOMB, "alerts.yaml"), "alerts.yaml")
    for name, fn in (("systems.yaml", read_yaml), ("thresholds.yaml", load_thresholds)):
        p = tmp_path / name; p.write_text(BOMB)
        assert isinstance(_refused(lambda: fn(p), name), YamlLimitError)


def test_a_bomb_in_prompt_front_matter_is_a_problem_of_that_file(tmp_path):
    from llmops_nb.prompts import read_prompt_file
    p = tmp_path / "prompts" / "support" / "v1.md"; p.parent.mkdir(parents=True)
    p.write_text("---\n" + BOMB + "---\nHello {name}\n", encoding="utf-8")
    problems, t0 = [], time.perf_counter()
    assert read_prompt_file(p, problems) is None and time.perf_counter() - t0 < 5
    assert [pr.rule for pr in problems] == ["front_matter.yaml"] and "billion laughs" in problems[0].message


def test_ordinary_aliases_still_load():
    from llmops_nb.cost_budgets import parse_budgets
    text = "defaults: &d {alert_threshold: 0.8}\nbudgets:\n  - {scope: department, name: legal, monthly: 100000, <<: *d}\n"
    try: parse_budgets(text, config.Settings(), "budgets.yaml")
    except YamlLimitError: pytest.fail("a small file with an alias is not a bomb")
    except LlmopsError: pass  # the budget schema may refuse the merge key; only the bomb check matters here


def _ini(tmp_path, body: bytes) -> Path:
    (tmp_path / "settings.ini").write_bytes(body)
    return tmp_path


@pytest.mark.parametrize("key,value", [("fx_rate", "nan"), ("fx_rate", "inf"), ("tax_rate", "nan"), ("monthly_budget", "-inf")])
def test_settings_refuse_nan_and_inf(tmp_path, key, value):
    section = "budget" if key == "monthly_budget" else "organisation"
    ws = _ini(tmp_path, f"[{section}]\n{key} = {value}\n".encode())
    with pytest.raises(config.SettingsError, match=rf"settings.ini:2: \[{section}\] {key} = '{value}': allowed .*nan and inf"):
        load_settings(ws)


def test_settings_read_percent_bom_and_name_shift_jis(tmp_path):
    s = load_settings(_ini(tmp_path, "\ufeff[organisation]\nname = 100% Natural Foods 株式会社\n".encode("utf-8")))
    assert s.name == "100% Natural Foods 株式会社"
    with pytest.raises(config.SettingsError, match=r"settings.ini:2: not UTF-8 \(it looks like Shift_JIS\)"):
        load_settings(_ini(tmp_path, "[organisation]\nname = 株式会社サンプル\n".encode("cp932")))

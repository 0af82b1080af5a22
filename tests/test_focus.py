"""The FinOps FOCUS chargeback export, checked as a FinOps team would: the FinOps Foundation's own `focus-validator`
(installed from PyPI into its own virtual environment under build/) on the CSV the CLI writes, and the FOCUS 1.2 columns
that validator does not know checked against the 1.2 column table; the yen figures equal the cost report's chargeback."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmops_nb import cost as K
from llmops_nb.cli.cost import cli_cost

ROOT = Path(__file__).resolve().parents[1]
PERIOD = "2026-10"
OVERRIDES = Path(__file__).parent / "data" / "focus_validator_overrides.yaml"

# focus-validator 1.0.0 (the registry's only release) with the dependency set it works with: its own bounds let pip pick
# multimethod 2 (pandera 0.17 needs `overload`, gone in 2.0) and SQLAlchemy 2 (pandasql needs 1.x).
VALIDATOR_PINS = ("focus-validator==1.0.0", "multimethod==1.10", "SQLAlchemy==1.4.54", "pandera==0.17.2", "pandas==2.3.3",
                  "numpy==1.26.4", "pandasql==0.7.3", "sqlglot==18.17.0", "pydantic==2.14.4", "pyarrow==26.0.1",
                  "pytz==2023.4", "PyYAML==6.0.4", "requests==2.34.2", "tabulate==0.10.0", "typeguard==4.6.1")

# --- FOCUS 1.2's column table (specification/columns/*.md at tag v1.2), the columns that concern this export -------
# name: (feature level, allows nulls, data type)
SPEC_1_2 = {
    "BilledCost": ("Mandatory", False, "Decimal"), "BillingAccountId": ("Mandatory", False, "String"),
    "BillingAccountName": ("Mandatory", True, "String"), "BillingCurrency": ("Mandatory", False, "String"),
    "BillingPeriodEnd": ("Mandatory", False, "Date/Time"), "BillingPeriodStart": ("Mandatory", False, "Date/Time"),
    "ChargeCategory": ("Mandatory", False, "String"), "ChargeClass": ("Mandatory", True, "String"),
    "ChargeDescription": ("Mandatory", True, "String"), "ChargePeriodEnd": ("Mandatory", False, "Date/Time"),
    "ChargePeriodStart": ("Mandatory", False, "Date/Time"), "ContractedCost": ("Mandatory", False, "Decimal"),
    "EffectiveCost": ("Mandatory", False, "Decimal"), "InvoiceIssuerName": ("Mandatory", False, "String"),
    "ListCost": ("Mandatory", False, "Decimal"), "PricingQuantity": ("Mandatory", True, "Decimal"),
    "PricingUnit": ("Mandatory", True, "String"), "ProviderName": ("Mandatory", False, "String"),
    "PublisherName": ("Mandatory", False, "String"), "ServiceCategory": ("Mandatory", False, "String"),
    "ServiceName": ("Mandatory", False, "String"),
    "ChargeFrequency": ("Recommended", False, "String"), "ServiceSubcategory": ("Recommended", False, "String"),
    "InvoiceId": ("Recommended", True, "String"),
    "ConsumedQuantity": ("Conditional", True, "Decimal"), "ConsumedUnit": ("Conditional", True, "String"),
    "ContractedUnitPrice": ("Conditional", True, "Decimal"), "ListUnitPrice": ("Conditional", True, "Decimal"),
    "PricingCategory": ("Conditional", True, "String"), "ResourceId": ("Conditional", True, "String"),
    "ResourceName": ("Conditional", True, "String"), "ResourceType": ("Conditional", True, "String"),
    "SkuId": ("Conditional", True, "String"), "SkuMeter": ("Conditional", True, "String"),
    "SkuPriceId": ("Conditional", True, "String"), "SkuPriceDetails": ("Conditional", True, "JSON"),
    "SubAccountId": ("Conditional", True, "String"), "SubAccountName": ("Conditional", True, "String"),
    "Tags": ("Conditional", True, "JSON"),
    "RegionId": ("Conditional", True, "String"), "RegionName": ("Conditional", True, "String"),
    "AvailabilityZone": ("Recommended", True, "String"), "BillingAccountType": ("Conditional", False, "String"),
    "SubAccountType": ("Conditional", True, "String"), "PricingCurrency": ("Conditional", True, "String"),
    "CommitmentDiscountId": ("Conditional", True, "String"),
}
# the conditional columns whose condition holds for LLM API calls priced from published price lists
CONDITIONAL_PRESENT = ("SkuId", "SkuMeter", "SkuPriceId", "SkuPriceDetails", "PricingCategory", "ListUnitPrice",
                       "ContractedUnitPrice", "ConsumedQuantity", "ConsumedUnit", "ChargeFrequency")
ALLOWED = {
    "ChargeCategory": {"Usage", "Purchase", "Tax", "Credit", "Adjustment"},
    "ChargeClass": {"Correction"},
    "ChargeFrequency": {"One-Time", "Recurring", "Usage-Based"},
    "PricingCategory": {"Standard", "Dynamic", "Committed", "Other"},
    "ServiceCategory": {"AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
                        "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
                        "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security",
                        "Storage", "Web", "Other"},
}
AI_SUBCATEGORIES = {"AI Platforms", "Bots", "Generative AI", "Machine Learning", "Natural Language Processing",
                    "Other (AI and Machine Learning)"}
SKU_PRICE_DETAIL_KEYS = {"CoreCount", "DiskMaxIops", "DiskSpace", "DiskType", "GpuCount", "InstanceType", "InstanceSeries",
                         "MemorySize", "NetworkMaxIops", "NetworkMaxThroughput", "OperatingSystem", "Redundancy", "StorageClass"}
DECIMAL = re.compile(r"-?\d+(\.\d+)?")  # plain decimal: no exponent, no sign for positives, no thousands separator
DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# Unit Format: "<plural-units>", "<singular>-<plural-time-units>", "<plural-units>/<time-unit>", optionally led by a
# whole-number quantity ("1000 Tokens"); each term capitalised
UNIT = re.compile(r"([1-9]\d* )?[A-Z][A-Za-z]*(-[A-Z][a-z]+|/([1-9]\d* )?[A-Z][a-z]+)?")


@pytest.fixture(scope="module")
def ws(demo_raw_workspace, tmp_path_factory):
    "The 3,000-row demo with its price book and budgets, ingested."
    from llmops_nb import logs
    w = tmp_path_factory.mktemp("focus") / "ws"
    shutil.copytree(demo_raw_workspace, w)
    K.write_demo_cost(w)
    logs.ingest(sorted((w / "raw").iterdir()), w, gx=False, progress=False)
    return w


@pytest.fixture(scope="module")
def october(ws):
    "October's priced calls, as the cost report reads them."
    from llmops_nb.pricing import load_priced
    p = load_priced(ws)
    return p[p.ts_start.dt.strftime("%Y-%m") == PERIOD]


@pytest.fixture(scope="module")
def focus_csv(ws, tmp_path_factory):
    "The CSV `llmops-nb cost --focus` writes for October."
    path = tmp_path_factory.mktemp("focus_out") / f"focus_{PERIOD}.csv"
    assert cli_cost(["-w", str(ws), "-p", PERIOD, "--focus", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def text(focus_csv):
    "The CSV as written: every cell a string, empty cells as None (FOCUS null)."
    df = pd.read_csv(focus_csv, dtype=str, keep_default_na=False, encoding="utf-8")
    return df.replace({"": None})


# --- the FinOps Foundation's validator ------------------------------------------------------------------------------

def _validator_venv() -> Path:
    "A virtual environment with focus-validator, made once per pin set under build/ and reused."
    key = hashlib.sha256("\n".join(VALIDATOR_PINS).encode()).hexdigest()[:12]
    venv = ROOT / "build" / f"focus-validator-1.0.0-{key}"
    ok = venv / ".complete"
    if not ok.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *VALIDATOR_PINS], check=True)
        ok.write_text("\n".join(VALIDATOR_PINS) + "\n")
    return venv


def run_focus_validator(csv: Path, out: Path) -> ET.Element:
    "Run the validator's CLI with its FOCUS 1.0 rules and our overrides; the JUnit XML report's root element."
    venv = _validator_venv()
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import focus_validator, os; print(os.path.dirname("
                           "os.path.dirname(focus_validator.__file__)))"], check=True, capture_output=True, text=True).stdout.strip()
    # focus-validator 1.0.0 opens its ISO currency list by a path relative to the working directory, so it runs from
    # its site-packages folder (from anywhere else every BillingCurrency fails with FileNotFoundError)
    r = subprocess.run([str(venv / "bin" / "focus-validator"), "--data-file", str(csv.resolve()), "--validate-version", "1.0",
                        "--override-file", str(OVERRIDES), "--output-type", "unittest", "--output-destination", str(out)],
                       cwd=site, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert r.returncode == 0, r.stderr[-3000:]
    return ET.parse(out).getroot()


@pytest.mark.slow
def test_focus_validator_reports_no_failures(focus_csv, tmp_path):
    t0 = time.perf_counter()
    root = run_focus_validator(focus_csv, tmp_path / "focus-validator.xml")
    cases = root.findall(".//testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
    skipped = {c.get("name").split(" :: ")[0] for c in cases if c.find("skipped") is not None}
    overrides = {line.strip()[2:] for line in OVERRIDES.read_text().splitlines() if line.strip().startswith("- ")}
    assert failed == [] and root.get("failures") == "0" and root.get("errors") == "0", failed
    assert skipped == overrides  # only the rules we skip, for the reasons in the overrides file
    ran = {c.get("name").split(" :: ")[0] for c in cases} - skipped
    # the validator's rules on the columns it knows did run, e.g. the mandatory ChargeClass and PricingCategory
    assert {"ChargeClass_Required", "ChargeClass_Enum", "PricingCategory_Required", "PricingCategory_Enum_1.0",
            "BillingCurrency_IsCurrencyCode", "ListUnitPrice_IsDecimal", "Tags_IsJSONObject"} <= ran and len(ran) > 100
    print(f"focus-validator: {len(ran)} rules passed, {len(skipped)} skipped, {time.perf_counter() - t0:.1f} s")


# --- FOCUS 1.2, from its column table -------------------------------------------------------------------------------

def test_focus_file_is_plain_utf8_with_plain_decimals(focus_csv, text):
    raw = focus_csv.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "byte-order mark"
    raw.decode("utf-8")
    for col in [c for c, (_, _, typ) in SPEC_1_2.items() if typ == "Decimal" and c in text]:
        vals = text[col].dropna()
        bad = vals[~vals.str.fullmatch(DECIMAL.pattern)]
        assert bad.empty, f"{col}: {bad.head(3).tolist()}"
    for col in [c for c, (_, _, typ) in SPEC_1_2.items() if typ == "Date/Time" and c in text]:
        assert text[col].str.fullmatch(DATETIME.pattern).all(), col


def test_focus_1_2_columns_present_and_typed(text):
    cols = list(text.columns)
    missing = [c for c, (level, _, _) in SPEC_1_2.items() if level == "Mandatory" and c not in cols]
    assert missing == [], f"mandatory FOCUS 1.2 columns missing: {missing}"
    assert [c for c in CONDITIONAL_PRESENT if c not in cols] == []
    assert [c for c in cols if c not in SPEC_1_2 and not c.startswith("x_")] == []  # custom columns carry the x_ prefix
    for c in cols:
        if c in SPEC_1_2 and not SPEC_1_2[c][1]: assert text[c].notna().all(), f"{c} must not be null"
    for c in [c for c in cols if c in SPEC_1_2 and SPEC_1_2[c][2] == "JSON"]:
        for v in text[c].dropna():
            obj = json.loads(v)
            assert isinstance(obj, dict) and all(not isinstance(x, (dict, list)) for x in obj.values()), (c, v)


def test_focus_1_2_allowed_values_and_nullability(text):
    for col, allowed in ALLOWED.items():
        assert set(text[col].dropna()) <= allowed, col
    usage = text.ChargeCategory.eq("Usage") & text.ChargeClass.ne("Correction").fillna(True)
    assert len(text) > 0 and usage.all()  # API calls are usage; none corrects an earlier billing period
    assert text.ChargeClass.isna().all()  # ChargeClass: null unless the row corrects a previously invoiced period
    assert set(text.BillingCurrency) == {"USD"}  # as the providers invoice
    # Usage rows (not corrections): PricingCategory, PricingQuantity, ListUnitPrice, SkuId, ConsumedQuantity not null
    for c in ("PricingCategory", "PricingQuantity", "ListUnitPrice", "SkuId", "ConsumedQuantity"):
        assert text.loc[usage, c].notna().all(), c
    assert text.PricingUnit.isna().eq(text.PricingQuantity.isna()).all()  # PricingUnit null exactly when PricingQuantity is
    assert text.ConsumedUnit.isna().eq(text.ConsumedQuantity.isna()).all()
    for c in ("PricingUnit", "ConsumedUnit"):
        bad = text[c].dropna()[~text[c].dropna().str.fullmatch(UNIT.pattern)]
        assert bad.empty, f"{c} not in FOCUS unit format: {sorted(set(bad))}"
    assert "1000000 Tokens" in set(text.PricingUnit) and "Tokens" in set(text.ConsumedUnit)
    assert text.SkuMeter.notna().eq(text.SkuId.notna()).all()  # null when SkuId is, and given when it is not
    assert (text.SkuPriceDetails.isna() | text.SkuPriceId.notna()).all()  # null when SkuPriceId is null
    for v in text.SkuPriceDetails.dropna():
        assert all(k.startswith("x_") or k in SKU_PRICE_DETAIL_KEYS for k in json.loads(v)), v
    # one SkuPriceId, one SkuPriceDetails; SkuMeter consistent for a SkuId
    assert text.groupby("SkuPriceId").SkuPriceDetails.nunique(dropna=False).max() == 1
    assert text.groupby("SkuId").SkuMeter.nunique().max() == 1
    sub = text[text.ServiceCategory == "AI and Machine Learning"].ServiceSubcategory
    assert set(sub) <= AI_SUBCATEGORIES
    assert (text.SubAccountName.isna() | text.SubAccountId.notna()).all()
    assert (text.BillingPeriodStart <= text.ChargePeriodStart).all() and (text.ChargePeriodEnd <= text.BillingPeriodEnd).all()


def test_focus_unit_prices_times_quantity_are_the_costs(text):
    num = text[["ListUnitPrice", "ContractedUnitPrice", "PricingQuantity", "ListCost", "ContractedCost", "BilledCost",
                "EffectiveCost"]].astype(float)
    assert np.allclose(num.ListUnitPrice * num.PricingQuantity, num.ListCost, rtol=1e-9, atol=1e-12)
    assert np.allclose(num.ContractedUnitPrice * num.PricingQuantity, num.ContractedCost, rtol=1e-9, atol=1e-12)
    assert (num.ListCost >= num.BilledCost - 1e-12).all() and (num.ListUnitPrice >= 0).all()


def test_focus_metadata_beside_the_file(focus_csv, text):
    from llmops_nb.cost_focus import focus_metadata_path
    meta = json.loads(focus_metadata_path(focus_csv).read_text(encoding="utf-8"))
    s = meta["Schema"]
    assert s["FocusVersion"] == "1.2" and meta["DataGenerator"]["DataGenerator"]
    assert re.fullmatch(r"[0-9a-f-]{36}", s["SchemaId"]) and DATETIME.fullmatch(s["CreationDate"])
    assert [c["ColumnName"] for c in s["ColumnDefinition"]] == list(text.columns)
    types = {c["ColumnName"]: c["DataType"] for c in s["ColumnDefinition"]}
    assert types["BilledCost"] == "DECIMAL" and types["ChargePeriodStart"] == "DATETIME" and types["Tags"] == "JSON"
    assert meta["data_location"] == [dict(filepath=focus_csv.name, total_bytes=focus_csv.stat().st_size, total_rows=len(text))]


# --- same fact, same number -----------------------------------------------------------------------------------------

def test_focus_figures_equal_the_cost_report(text, october):
    num = text.assign(**{c: text[c].astype(float) for c in ("BilledCost", "ListCost", "x_ReportingBilledCost",
                                                            "x_ReportingConsumptionTax", "x_ReportingBilledCostInclTax")})
    priced = october[october.priced]
    # USD as billed: the priced calls' dollars, computed here with pandas
    assert num.BilledCost.sum() == pytest.approx(priced.cost_usd.sum(), rel=1e-9)
    assert num.ListCost.sum() == pytest.approx(priced.cost_list_usd.sum(), rel=1e-9)
    # the yen view: the chargeback the cost report shows, department by department
    assert set(num.x_ReportingCurrency) == {"JPY"}
    cb = K.chargeback(october, "department").set_index("department")
    got = num.groupby("SubAccountName")[["x_ReportingBilledCost", "x_ReportingConsumptionTax", "x_ReportingBilledCostInclTax"]].sum()
    assert sorted(got.index) == sorted(cb.index.astype(str))
    for dept, row in got.iterrows():
        assert row.tolist() == pytest.approx(cb.loc[dept, ["cost", "tax", "total"]].astype(float).tolist(), rel=1e-9), dept
    assert num.x_ReportingBilledCost.sum() == pytest.approx(priced.cost_jpy.sum(), rel=1e-9)
    assert num.x_ReportingBilledCostInclTax.sum() == pytest.approx(priced.cost_jpy_incl_tax.sum(), rel=1e-9)

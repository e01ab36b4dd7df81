"""kit/report/study_section.py, kit/report/study_plots.py and the resources bars: the report of a study
run leads with the answer; a run without a study reports as before."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from study_run import write_study_run

from kit.report import plots, study_section
from kit.report.build import build_report

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_report(write_study_run(tmp_path_factory.mktemp("results") / "study"))


def test_the_answer_comes_first(built: Any) -> None:
    text = (built.folder / "report.md").read_text()
    headings = re.findall(r"^#+ .*", text, flags=re.M)
    assert headings[:4] == [
        "# Run study",
        "## The answer: cheapest at the SLO",
        "### malware, small payload",
        "## How to read these figures",
    ]
    assert (
        "SLO: p99 ≤ 100 ms per request. Cheapest at the SLO: **torchserve**, $0.9444 (estimate) per 1M "
        "inferences. Common rate: 12 req/s: 50 % of the lowest capacity, mlserver's 24 req/s (3 repetitions "
        "per framework). Not measured at the common rate: mlflow: no capacity at p99 <= 100 ms (lowest rate "
        "tried 2 req/s)."
    ) in text


def test_the_ranking_table(built: Any) -> None:
    text = (built.folder / "report.md").read_text()
    table = text[text.index("| rank |") :].split("\n\n")[0].splitlines()
    assert table[0] == "| " + " | ".join(study_section.HEADER) + " |"
    assert table[2].startswith(
        "| 1 | torchserve | $0.9444 (estimate) [0.7870, 0.9444] | 50 [50, 60) | 0.75 [0.57, 0.92] | "
        "2.05 [1.87, 2.22] (n 360) | 6.0 [3.5, 8.5] | 300 after load | 166.67 [166.67, 166.67] |"
    )
    assert table[3].startswith(
        "| 2 | mlserver | $0.9838 (estimate) [0.9081, 0.9838] | 24 [24, 26) | not measured |"
    )
    assert table[4].startswith(
        "| - | mlflow | - | none: no capacity at p99 ≤ 100 ms, lowest rate tried 2 req/s | not measured |"
    )
    assert table[5] == (
        "| - | tfserving | **not measured** | - | - | - | - | - | - | - | "
        "not measured: skipped: tensorflow_model_server unavailable on this host |"
    )


def test_the_study_plot_sits_under_its_table_and_is_embedded(built: Any) -> None:
    names = [f.name for f in built.files]
    assert names[4:6] == ["answer.csv", "p99_malware_small_slo.png"]
    assert (built.folder / names[5]).read_bytes().startswith(PNG)
    text = (built.folder / "report.md").read_text()
    assert text.index("(p99_malware_small_slo.png)") < text.index("## How to read these figures")
    assert text.count("p99_malware_small_slo.png") == 1  # not again under Plots
    page = (built.folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len([n for n in names if n.endswith(".png")])


def test_json_carries_the_answer_and_the_claims_on_study_data(built: Any) -> None:
    doc = built.to_dict()
    assert [(r["framework"], r["rank"]) for r in doc["answer"]] == [
        ("torchserve", 1),
        ("mlserver", 2),
        ("mlflow", None),
        ("tfserving", None),
    ]
    json.dumps(doc)  # what `kit report --json` prints
    overall = {c["claim"]: c for c in doc["claims"] if c["comparison"] == "overall"}
    assert set(overall) == {
        "TF Serving beats every other framework (p50 at the common rate)",
        "TF Serving beats every other framework (capacity at the SLO)",
        "DL-specific (TF Serving, TorchServe) beat general-purpose (MLServer, MLflow, BentoML) "
        "(p50 at the common rate)",
        "DL-specific (TF Serving, TorchServe) beat general-purpose (MLServer, MLflow, BentoML) "
        "(capacity at the SLO)",
    }
    pairs = {(c["claim"][-8:], c["comparison"]): c for c in doc["claims"]}
    assert (
        pairs[("the SLO)", "torchserve vs mlserver")]["evidence"] == "small: [50, 60) vs [24, 26) req/s (yes)"
    )
    assert pairs[("on rate)", "torchserve vs mlserver")]["verdict"] == "yes"
    assert pairs[("on rate)", "tfserving vs mlserver")]["evidence"] == (
        "tfserving: skipped: tensorflow_model_server unavailable on this host"
    )


def test_a_run_without_a_study_reports_as_before(tmp_path: Path) -> None:
    report = build_report(write_study_run(tmp_path / "plain", study=False))
    text = (report.folder / "report.md").read_text()
    assert "The answer" not in text and not any(f.name.startswith("p99_") for f in report.files)
    assert report.to_dict()["answer"] is None
    assert "evidence (p50 ms, mean [95 % CI])" in text


def test_resources_at_one_rate_are_bars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    bars = plots._resource_bars

    def spy(have: Any, out_dir: Path) -> Path:
        drawn.append("bars")
        return bars(have, out_dir)

    monkeypatch.setattr(plots, "_resource_bars", spy)
    report = build_report(write_study_run(tmp_path / "one", study=False, only_rate=10.0))
    assert drawn == ["bars"] and (report.folder / "resources.png").read_bytes().startswith(PNG)
    drawn.clear()
    build_report(write_study_run(tmp_path / "many", study=False))  # several rates: points against rate
    assert drawn == []


def test_capacity_and_cost_say_what_kind_of_figure_they_are() -> None:
    base = {"capacity_outcome": "found", "capacity_why": "", "price_kind": "instance"}
    capped = base | {
        "capacity_req_per_s": 800.0,
        "capacity_low_req_per_s": 800.0,
        "capacity_high_req_per_s": None,
    }
    capped |= {"capacity_lower_bound": True, "usd_per_1m_inferences": 0.5}
    assert study_section.capacity_text(capped) == "≥ 800 (no rate judged missed: a lower bound)"
    assert study_section.cost_text(capped) == "≤ $0.5000 (capacity a lower bound)"
    unconfirmed = base | {
        "capacity_req_per_s": 20.0,
        "capacity_low_req_per_s": 20.0,
        "capacity_high_req_per_s": 24.0,
    }
    assert study_section.capacity_text(unconfirmed | {"capacity_outcome": "unconfirmed"}) == (
        "20 [20, 24), 24 failed its confirmation"
    )
    cut = base | {
        "capacity_req_per_s": None,
        "capacity_outcome": "cut",
        "capacity_why": "the sweep was cut: Ctrl-C",
    }
    assert study_section.capacity_text(cut) == "none: the sweep was cut: Ctrl-C"


def test_a_scenario_without_a_common_rate_says_why() -> None:
    from kit.results.study_plan import Common

    rows = [{"slo_p99_ms": 50.0, "rank": None, "framework": "mlflow"}]
    common = Common("image", "small", None, 0.5, None, None, (), (), {}, "no framework met the SLO")
    assert study_section.sentence(rows, common) == (
        "SLO: p99 ≤ 50 ms per request. Common rate: no common rate: no framework met the SLO."
    )


def test_the_plots_legend_stays_short_whatever_the_reason() -> None:
    from kit.report.study_plots import _capacity_label
    from kit.results.study_plan import Capacity

    def cap(outcome: str, why: str, **kw: Any) -> Capacity:
        base = {"slo_p99_ms": 100.0, "lowest_rate_tried": 5.0, "rate": None, "low": None, "high": None}
        return Capacity(
            "tfserving", "malware", "small", **{**base, **kw}, confirmed=False, outcome=outcome, why=why
        )

    long_why = "tensorflow_model_server unavailable on this host: " + "its apt repository is unreachable " * 5
    assert _capacity_label(cap("skipped", long_why)) == "not run here (see the table)"
    assert _capacity_label(cap("none", "")) == "no capacity at p99 ≤ 100 ms (lowest tried 5 req/s)"
    assert len(_capacity_label(cap("odd", long_why))) <= 60

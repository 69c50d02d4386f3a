"""The benchmark page renders what a bench run can produce: a one-seed market section (no intervals) and sections
kept from an earlier run, stamped with what measured them. A page that fails to render used to lose a 20-minute run."""

from __future__ import annotations

import json

import pytest

from bench import report
from bench import controls_bench
from bench.market_bench import DEFERRAL_SHARES, READERS, summarise, summarise_readers
from bench.measure import machine
from trm_demo.funnel.evaluation import MEASURES
from trm_demo.strategies import KEYS as STRATEGIES


def fake_run(seed: int, offset: float = 0.0) -> dict:
    strategies = {s: {m: 100.0 * (i + 1) + seed + offset for m in MEASURES} for i, s in enumerate(STRATEGIES)}
    counterfactuals = {c: {"expected_net_value_delta": float(seed)} for c in ("thermostat", "sentinel")}
    return {"strategies": strategies, "counterfactuals": counterfactuals}


def market_section(seeds: int) -> dict:
    per_seed = [{"default": fake_run(s)} for s in range(1, seeds + 1)]
    reading = {"opportunities": 10, "candidates": 2, "history_replies": 16,
               "share_of_oracle_expected": {"structured fields only (exact Bayes)": 0.8},
               "share_of_perfect_gain": {"structured fields only (exact Bayes)": 0.0},
               "by_construction": {"plain": {"facts": 3, "llm_read_right": 1.0, "llm_share_of_perfect_gain": 0.9}}}
    stamp = {"command": "python -m bench --only market", "started_at": "2026-12-01T00:00:00+00:00",
             "commit": "abc1234", "cpu": "a CPU"}
    return {"reading": reading, **summarise(per_seed), "seed_list": list(range(1, seeds + 1)), "wall_seconds": 1.0,
            "measured_by": stamp}


def readers_section(seeds: int) -> dict:
    def one(seed: int) -> dict:
        readers = {name: {"cascade": 100.0 + seed + i, "trm": 90.0, "keyword": 95.0 + seed, "oracle": 120.0,
                          "reads": 10 + i} for i, name in enumerate(READERS)}
        orders = {o: {f"{x:g}": 0.9 + 0.01 * seed for x in DEFERRAL_SHARES} for o in ("voi", "top_k", "random", "oracle")}
        return {"readers": readers, "deferral": orders}
    return {"seed_list": list(range(1, seeds + 1)), **summarise_readers([one(s) for s in range(1, seeds + 1)])}


def controls_section(seeds: int, thermostat: float = 60.0) -> dict:
    def one(seed: int) -> dict:
        scenario = {"opportunities": 200, "thermostat": thermostat + seed,
                    "fixed": {h: 50.0 + seed + h for h in controls_bench.FIXED_HURDLES},
                    "limits": {c: {"on": 60.0 + seed, "off": 61.0, "llm_cost_delta": -1.0}
                               for c in controls_bench.LIMITS}}
        names = (*controls_bench.WAITING_PRICED, *controls_bench.SHOCKS, controls_bench.DEFAULT)
        return {name: scenario for name in names}

    def held_out(seed: int) -> dict:   # the floor's knob pairs, run on the choosing seeds only
        return {**one(seed), "floor_knobs": {controls_bench.knob_name(w, s): {name: 50.0 + seed + w / 10 - s
                                                                              for name in controls_bench.FLOOR_SCENARIOS}
                                             for w, s in controls_bench.FLOOR_KNOBS}}
    choosing, evaluating = [held_out(s) for s in (101, 102)], [one(s) for s in range(1, seeds + 1)]
    scenarios = controls_bench.summarise(choosing, evaluating, 3.0)
    return {"scenarios": scenarios, "floor_knobs": controls_bench.floor_choice(choosing, scenarios),
            "configured_floor_knobs": controls_bench.knob_name(40, 0.6),
            "thermostat_floor": 3.0, "fixed_hurdle_grid": list(controls_bench.FIXED_HURDLES),
            "choosing_seeds": [101, 102], "evaluation_seeds": list(range(1, seeds + 1)), "wall_seconds": 1.0}


@pytest.mark.parametrize("seeds", [1, 3])
def test_the_market_and_controls_tables_render_with_one_seed_or_several(seeds):
    results = {"machine": machine(), "market": market_section(seeds), "controls": controls_section(seeds),
               "readers": readers_section(seeds),
               "meta": {"command": "python -m bench", "started_at": "2026-12-02T00:00:00+00:00", "total_seconds": 5}}
    page = report.markdown(results)
    for heading in ("## What reading the reply is worth", "## Multi-seed quality",
                    "## The thermostat against the best fixed hurdle",
                    "## The thermostat's floor: its knobs chosen on held-out seeds",
                    "## The sentinel, the latency limit and the budget against their best fixed setting",
                    "## Reader sweep: the cascade with good, bad and useless readers"):
        assert heading in page
    assert ("one seed: no interval" in page) == (seeds == 1)
    assert "market by `python -m bench --only market` on 2026-12-01 00:00:00+00:00 (commit abc1234, a CPU)" in page
    # the widest window with the lowest steady_surprise scores highest on the fake plant: chosen, and not the config's
    assert "| surprise_window 80, steady_surprise 0.6 (chosen) |" in page
    assert "The config holds surprise_window 40, steady_surprise 0.6, not the chosen pair: update it." in page


def test_a_missed_thermostat_target_is_said_in_words():
    """A thermostat $5 per run behind the best fixed hurdle ($0.025 per opportunity) meets the steady market's target
    (-$0.10) and misses every shock's ($0): the page says which."""
    def page(thermostat):
        return report.markdown({"machine": machine(), "controls": controls_section(3, thermostat),
                                "meta": {"command": "python -m bench", "started_at": "2026-12-02T00:00:00+00:00",
                                         "total_seconds": 5}})
    assert "Missed, said plainly" not in page(60.0)
    missed = page(55.0)
    line = next(x for x in missed.splitlines() if x.startswith("Missed, said plainly"))
    assert line.startswith("Missed, said plainly: the thermostat does not beat the best held-out fixed hurdle under "
                           "price rise x2.5 at 80: -$0.03")
    assert "steady:" not in line and "LLM outage 130-154:" in line


def kept_readme(stamp: dict) -> dict:
    """A page whose run measured the market on this machine and kept a README-times section from another run."""
    return {"machine": {**machine(), "cpu_model": "this CPU", "load_average_at_start": [9.0, 9.0, 9.0]},
            "market": market_section(1) | {"measured_by": {"command": "python -m bench --only market",
                                                            "started_at": "2026-12-02T00:00:00+00:00"}},
            "readme": {"rows": {"python main.py": {"wall_seconds": 3.0, "cpu_seconds": 2.0}}, "measured_by": stamp},
            "meta": {"command": "python -m bench --only market", "started_at": "2026-12-02T00:00:00+00:00",
                     "total_seconds": 5}}


def section(page: str, heading: str) -> str:
    return page.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_a_kept_section_names_its_own_machine_and_load_not_the_pages():
    old = {"command": "python -m bench --only readme", "started_at": "2026-11-30T00:00:00+00:00",
           "commit": "def5678", "cpu": "another CPU", "cores_usable": 4, "load_average": [0.5, 0.4, 0.3]}
    page = report.markdown(kept_readme(old))
    readme = section(page, "README times")
    assert "on another CPU, 4 usable cores, load average [0.5, 0.4, 0.3] at the start" in readme
    assert "this CPU" not in readme and "9.0" not in readme
    # an older stamp without a load: said, not borrowed from this run's machine
    older = section(report.markdown(kept_readme({k: v for k, v in old.items() if k != "load_average"})),
                    "README times")
    assert "load average not recorded" in older and "9.0" not in older
    # a section on another CPU than the Machine table's says so under its table; one on the same CPU does not
    kept = kept_readme(old) | {"controls": controls_section(1) | {"measured_by": old}}
    thermostat = section(report.markdown(kept), "The thermostat against the best fixed hurdle")
    assert ("Measured on another CPU, not the Machine table's this CPU: by `python -m bench --only readme` on "
            "2026-11-30 00:00:00+00:00 (commit def5678), load average [0.5, 0.4, 0.3] at its start.") in thermostat
    kept["controls"]["measured_by"] = old | {"cpu": "this CPU"}
    assert "Measured on" not in report.markdown(kept)


def test_render_rewrites_the_page_from_results_json_without_measuring(tmp_path, monkeypatch):
    from bench import run
    from bench.reader import MARKER
    (tmp_path / "bench").mkdir()
    (tmp_path / "docs").mkdir()
    results = kept_readme({"command": "python -m bench --only readme", "started_at": "2026-11-30T00:00:00+00:00"})
    (tmp_path / "bench" / "results.json").write_text(json.dumps(results))
    reader_part = f"{MARKER[0]}\nthe reader bench's section\n{MARKER[1]}"
    (tmp_path / "docs" / "BENCHMARKS.md").write_text(f"an old page\n{reader_part}\n")
    monkeypatch.setattr(run, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(run, "SECTIONS", {name: None for name in run.SECTIONS})   # a measurement would fail
    assert run.main(["--render"]) == 0
    page = (tmp_path / "docs" / "BENCHMARKS.md").read_text()
    assert page == report.markdown(results) + "\n" + reader_part + "\n"
    assert json.loads((tmp_path / "bench" / "results.json").read_text()) == results
    with pytest.raises(SystemExit):
        run.main(["--render", "--only", "market"])

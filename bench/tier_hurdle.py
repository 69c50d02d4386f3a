"""cascade3's LLM hurdle chosen on held-out seeds (issue 25): python -m bench.tier_hurdle [--seeds 101-110].

For each held-out seed the TRM is fine-tuned once and the default run is replayed with the reading TRM's tier on at
each `reading_trm.llm_hurdle` (a multiple of the thermostat's hurdles); "never" is a hurdle no value of information
reaches (cascade3 = trm_reader's belief, no LLM). Prints, per setting, cascade3's expected net value per run minus
never reading (mean and 95 % t interval over the seeds, paired) and its LLM reads; the config's default is the best
mean. Writes bench/tier-hurdle-results.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.market_bench import fine_tuned
from trm_demo.funnel.evaluation import mean_ci

HURDLES = {"x0.5": 0.5, "x1": 1.0, "x2": 2.0, "x4": 4.0, "x8": 8.0, "x16": 16.0, "never": 1e6}
OUT = Path(__file__).with_name("tier-hurdle-results.json")


def one_seed(seed: int) -> dict:
    """cascade3's expected net value and LLM reads at every hurdle on one seed (one fine-tuning)."""
    cfg, run = fine_tuned(seed)
    out = {}
    for name, hurdle in HURDLES.items():
        s = run(cfg.replace(**{"reading_trm.enabled": True, "reading_trm.llm_hurdle": hurdle})).ledger.summary()
        out[name] = {"expected_net_value": s["cascade3"]["expected_net_value"], "llm_reads": s["cascade3"]["llm_reads"]}
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="101-110", help="first-last held-out seeds (default 101-110)")
    first, last = map(int, p.parse_args(argv).seeds.split("-"))
    per_seed = {seed: one_seed(seed) for seed in range(first, last + 1)}
    never = np.array([r["never"]["expected_net_value"] for r in per_seed.values()])
    summary = {name: {"minus_never": mean_ci([r[name]["expected_net_value"] for r in per_seed.values()] - never),
                      "llm_reads": float(np.mean([r[name]["llm_reads"] for r in per_seed.values()]))}
               for name in HURDLES}
    OUT.write_text(json.dumps({"seeds": f"{first}-{last}", "per_seed": per_seed, "summary": summary}, indent=1) + "\n")
    print(f"cascade3 minus never reading the LLM, $ per run, seeds {first}-{last} (mean +- 95 % t half-width):")
    for name, row in summary.items():
        d = row["minus_never"]
        print(f"  {name:6s} {d['mean']:+8.1f} +- {d['half_width'] or 0:5.1f}   LLM reads {row['llm_reads']:6.1f}")


if __name__ == "__main__":
    main()

"""What fine-tuning buys, per epoch count and learning rate (the `fine_tune` section of `python -m bench`).

For each held-out seed (600-609: never the evaluated seeds) and each setting (epochs, learning rate) the default
run's pipeline runs as `python main.py --seed S --train-epochs E` would: fine-tuning on the seed's recent log, the
validation split choosing the epoch and step cap, then the funnel. Two yardsticks per run: the held-out excess
log-loss of the kept model at its validated cap (KL from the true probabilities, free of outcome noise), and the
cascade's (and the TRM alone's) expected net value per opportunity. Every setting is compared with the reference
(the shipped default of issue 24's round: 5 epochs at 0.001), paired by seed, with 95 % t intervals; the CPU time
is fine-tuning's own (one process, one BLAS thread). A learning-rate schedule other than constant was not measured.

python -m bench.fine_tune_bench [--seeds 600-609]    # prints the table; python -m bench --only fine_tune records it
"""

from __future__ import annotations

import argparse
import time

from bench.measure import in_processes

SEEDS = list(range(600, 610))
# (epochs, learning rate); the first is the reference every other is paired with
SETTINGS = [(5, 1e-3), (0, 1e-3), (1, 1e-3), (2, 1e-3), (3, 1e-3), (1, 2e-3), (2, 2e-3)]


def one_run(job: tuple[int, int, float]) -> dict:
    """The default pipeline at one seed and setting: held-out excess at the kept cap, expected net values, CPU s."""
    seed, epochs, learning_rate = job
    from trm_demo.config import load_config
    from trm_demo.funnel.pipeline import fine_tune, fit_baseline, starting_model, step_cap
    from trm_demo.funnel.simulation import run_funnel
    from trm_demo.funnel.telemetry import call_log
    from trm_demo.ui import UI
    cfg = load_config(overrides={"simulation.seed": seed, "training.epochs": epochs,
                                 "training.learning_rate": learning_rate})
    model = starting_model(cfg)
    started = time.process_time()
    training = fine_tune(cfg, model, UI(quiet=True))
    seconds = time.process_time() - started
    cap = step_cap(cfg, training)
    with call_log(None) as calls:
        strategies = run_funnel(cfg, model, fit_baseline(cfg), calls, cap).ledger.summary()
    n = cfg.simulation.opportunities
    return {"seed": seed, "epochs": epochs, "learning_rate": learning_rate, "step_cap": cap,
            "kept_epoch": training["selected"]["epoch"],
            "holdout_excess": training["holdout_after"][cap - 1]["excess_log_loss"],
            "cascade_per_opportunity": strategies["cascade"]["expected_net_value"] / n,
            "trm_per_opportunity": strategies["trm"]["expected_net_value"] / n, "fine_tune_cpu_seconds": seconds}


def run(seeds: list[int] = SEEDS, settings: list[tuple[int, float]] = SETTINGS) -> dict:
    from trm_demo.funnel.evaluation import mean_ci
    runs = in_processes(one_run, [(seed, e, lr) for e, lr in settings for seed in seeds])
    by_setting = {(e, lr): [r for r in runs if (r["epochs"], r["learning_rate"]) == (e, lr)] for e, lr in settings}
    reference = by_setting[settings[0]]
    measures = ("holdout_excess", "cascade_per_opportunity", "trm_per_opportunity")
    rows = []
    for (epochs, learning_rate), these in by_setting.items():
        row = {"epochs": epochs, "learning_rate": learning_rate, "seeds": len(these),
               "fine_tune_cpu_seconds": mean_ci([r["fine_tune_cpu_seconds"] for r in these]),
               "mean_step_cap": sum(r["step_cap"] for r in these) / len(these)}
        for m in measures:
            row[m] = mean_ci([r[m] for r in these])
            row[m + "_minus_reference"] = mean_ci([r[m] - ref[m] for r, ref in zip(these, reference)])
        rows.append(row)
    return {"seeds": [seeds[0], seeds[-1]], "reference": list(settings[0]), "rows": rows, "runs": runs}


def table(section: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows (Markdown cells) of the section: bench/report.py's page and this module's print."""
    def ci(stat: dict, digits: int, scale: float = 1.0) -> str:
        half = stat["half_width"]
        return f"{stat['mean'] * scale:+.{digits}f}" + ("" if half is None else f" ± {half * scale:.{digits}f}")

    e, lr = section["reference"]
    headers = ["epochs", "learning rate", "held-out excess log-loss (nats)", f"− reference ({e} at {lr:g})",
               "cascade $ per opportunity", "− reference", "TRM alone $ per opportunity", "− reference",
               "mean step cap", "fine-tuning CPU s"]
    rows = [[str(r["epochs"]), f"{r['learning_rate']:g}", ci(r["holdout_excess"], 5),
             ci(r["holdout_excess_minus_reference"], 5), ci(r["cascade_per_opportunity"], 3),
             ci(r["cascade_per_opportunity_minus_reference"], 3), ci(r["trm_per_opportunity"], 3),
             ci(r["trm_per_opportunity_minus_reference"], 3), f"{r['mean_step_cap']:.1f}",
             f"{r['fine_tune_cpu_seconds']['mean']:.2f}"] for r in section["rows"]]
    return headers, rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fine_tune_bench")
    parser.add_argument("--seeds", default="600-609", help="held-out seeds, LO-HI")
    lo, hi = (int(s) for s in parser.parse_args().seeds.split("-"))
    headers, rows = table(run(list(range(lo, hi + 1))))
    print("| " + " | ".join(headers) + " |\n|" + "---|" * len(headers))
    print("\n".join("| " + " | ".join(row) + " |" for row in rows))


if __name__ == "__main__":
    main()

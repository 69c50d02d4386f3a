"""The reading TRM (issue 25, phase 1): does a tiny recursive reader of the reply recover a perfect reading's gain?

    python -m bench.reader --seeds 2 --samples 65536 --epochs 1 --out trm_demo/checkpoints/reading_trm.npz

Per seed (TRAINING_SEEDS, 1001.., disjoint from the evaluated seeds 500-519 and 1-20 and the held-out 600-609
and 101-110), every reader gets the same data: a labelled history of --samples replies of the default
market (market.labelled_history: fields, reply, observed 0/1 outcome; never the hidden facts, read_logit or
p_true) and the same fields-only logit as its starting point, the exact structured-only estimate
(market.structured_only_probability, as the market bench gives the keyword reader), so that what is measured
is reading alone. Readers:
- the reading TRM (trm/reader.py over funnel/tokens.py), trained with the tabular recipe at batch 64:
  DISTIL_EPOCHS one-step epochs regressing the logit of a bag-of-words logistic fitted on the TRM's training
  rows only (the warm start: pretraining from the same labelled data, trm/reader.py's notes; that teacher is
  scored too), --epochs one-step epochs on the outcomes, then DEEP_EPOCHS of deep supervision over
  SUPERVISION_STEPS steps (deep supervision from the start learned nothing), the best validated EMA kept;
- the keyword reader (funnel/keyword.py), fitted on the same history;
- a bag-of-words logistic (fit_bow): the fields-only logit, each vocabulary token's presence and presence x
  urgency, its L2 penalty chosen on the history's last fifth, then refitted on all of it (the TRM and the MLPs
  train on the first 80 % and validate on the rest);
- two same-size MLPs (2 hidden layers, parameter counts within 2 % of the TRM's free and of its stored
  weights) on the same bag and field tokens, the fields-only logit as their offset, trained by the one loop
  (bench/ablation.fit_mlp), each at the learning rate its validation split prefers.
Scored on --holdout fresh replies with the true probability (evaluation only): excess log-loss KL(p || p_hat)
and the share of a perfect reading's gain, (fields - reader) / (fields - perfect), perfect = squash(read_logit);
the kept TRM at its validated cap. Depth is measured on the model trained for it: validation may keep the
one-step reader (epoch 0 of the deep-supervision fit, never trained beyond step 1, whose later steps say nothing
about recursion), so the best validated deep-supervision epoch's EMA is kept aside too and scored at every step,
overall and on the replies that state a fact through each construction, and its halting head against random
stopping and fixed caps at equal mean steps (training.halting_rows, summarised as bench/ablation.py's
halting_summary). The first seed's kept TRM is written to --out (the shipped checkpoint; its CPU time is in
the section). Results: bench/reader-results.json and the reader section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.ablation import fit_mlp, halting_summary, mlp_probability  # noqa: E402
from bench.measure import in_processes, machine  # noqa: E402
from trm_demo.funnel.bag_of_words import bag  # noqa: E402

HIDDEN_SIZE, EXPANSION, N_CYCLES = 24, 1, 2   # 0.37 CPU s per training step of 256 replies (measured, 2 shared cores)
SUPERVISION_STEPS = 4
# The reader's own optimiser knobs (the rest is the training section's), chosen on the validation split of
# training seed 1001's history (never on held-out replies): see trm/reader.py's notes for what was compared.
READER_KNOBS = {"learning_rate": 3e-3, "weight_decay": 0.3, "batch_size": 64}
DISTIL_EPOCHS = 2   # warm-start epochs regressing the bag-of-words teacher's logit, before the outcome epochs
MLP_LEARNING_RATES = (1e-3, 3e-3)
DEEP_EPOCHS = 1   # deep-supervision epochs after the --epochs one-step ones
HALT_THRESHOLDS = (0.5, 0.8, 0.95)
FIRST_SEED = 1001   # training seeds 1001..: never an evaluated (500-519, 1-20) or held-out (600-609, 101-110) seed
MARKER = ("<!-- reader:start -->", "<!-- reader:end -->")


def _data(seed: int, n: int, stream: int, drift: float) -> dict:
    from trm_demo.funnel.market import labelled_history, structured_only_probability
    from trm_demo.funnel.tokens import encode_market
    market, outcome = labelled_history(np.random.default_rng([seed, stream, 25]), n, drift)
    fields_p = structured_only_probability(market.pairs(), drift)[:, 0]
    return {"market": market, "outcome": outcome, "encoded": encode_market(market), "urgency": market.urgency,
            "base": np.log(fields_p / (1 - fields_p)), "fields_p": fields_p}


def fit_bow(data: dict, rows: np.ndarray | None = None):
    """The bag-of-words logistic (funnel/bag_of_words.py) fitted on `rows` of data (all by default).
    -> logit(data') for any data'."""
    from trm_demo.funnel.bag_of_words import fit_bag_of_words
    rows = slice(None) if rows is None else rows
    reader = fit_bag_of_words(data["encoded"].ids[rows], data["base"][rows], data["urgency"][rows],
                              data["outcome"][rows])
    return lambda d: reader.logit(d["encoded"].ids, d["base"], d["urgency"])


def _keyword(train: dict, test: dict) -> np.ndarray:
    from trm_demo.funnel.keyword import fit_keyword_reader, keyword_flags
    reader = fit_keyword_reader(train["base"], train["market"].messages[:, 0], train["market"].urgency,
                                train["outcome"])
    z = reader.logit(test["base"], keyword_flags(test["market"].messages[:, 0]), test["market"].urgency)
    return 1 / (1 + np.exp(-z))


def _by_construction(test: dict) -> dict:
    from trm_demo.funnel.messages import CONSTRUCTIONS, FACTS
    h = test["market"].hidden
    return {name: np.any([h.construction[f][:, 0] == c for f in FACTS], axis=0) for c, name in enumerate(CONSTRUCTIONS)}


def one_seed(job: dict) -> dict:
    from trm_demo.config import load_config
    from trm_demo.funnel.market import squash
    from trm_demo.funnel.tokens import FIELD_SLOTS, SEQ_LEN, VOCAB_SIZE
    from trm_demo.trm import mlp
    from trm_demo.trm.reader import fit_reader, flops_per_step, free_parameters, init_reader, reader_spec, trajectory
    from trm_demo.trm.training import excess_log_loss, halting_rows, validation_split
    from trm_demo.trm.weights import save_checkpoint
    cfg = load_config()
    seed, drift, t = job["seed"], cfg.market.drift, dataclasses.replace(cfg.training, **READER_KNOBS)
    train, test = _data(seed, job["samples"], 0, drift), _data(seed, job["holdout"], 1, drift)
    p_true, perfect = test["market"].p_true[:, 0], squash(test["market"].read_logit[:, 0])
    spec = reader_spec(VOCAB_SIZE, SEQ_LEN, HIDDEN_SIZE, EXPANSION, N_CYCLES)
    model = init_reader(spec, np.random.default_rng([seed, 2]), FIELD_SLOTS)
    started = time.process_time()
    rng = np.random.default_rng([seed, 3])
    ids, base, outcome = train["encoded"].ids, train["base"], train["outcome"]
    (fitted_rows, _), _ = validation_split(np.arange(len(ids)), outcome, t.validation_share)
    teacher = fit_bow(train, fitted_rows)   # the warm start's teacher never sees the validation rows
    one_step_knobs = dataclasses.replace(t, halting_weight=0.0)   # one step: nothing to halt
    warm = fit_reader(model, ids, base, outcome, one_step_knobs, DISTIL_EPOCHS, 1, rng, FIELD_SLOTS,
                      teacher=teacher(train))
    one_step = fit_reader(model, ids, base, outcome, one_step_knobs, job["epochs"], 1, rng, FIELD_SLOTS)
    deep = {}   # the best validated deep-supervision epoch: its record and EMA (the kept model may be epoch 0's)

    def keep_deep(record: dict) -> None:
        if record.get("validation_log_loss", np.inf) < deep.get("record", {}).get("validation_log_loss", np.inf):
            deep.update(record=record, ema={name: w.copy() for name, w in model.ema.items()})
    log = fit_reader(model, ids, base, outcome, t, DEEP_EPOCHS, SUPERVISION_STEPS, rng,
                     FIELD_SLOTS, on_epoch=keep_deep)   # epoch 0 = the one-step reader: kept unless beaten
    trm_cpu = time.process_time() - started
    if not deep:
        raise RuntimeError(f"seed {seed}: no deep-supervision epoch finished (non-finite), no depth to measure")
    cap, deep_cap = log["selected"]["step_cap"], deep["record"]["validation_step_cap"]
    kept_p = trajectory(model, test["encoded"].ids, test["base"], cap)[0][cap - 1]
    path, q = trajectory(dataclasses.replace(model, ema=deep["ema"]), test["encoded"].ids, test["base"],
                         SUPERVISION_STEPS)
    excess = excess_log_loss(path, p_true)                                                  # (S, B)

    free = free_parameters(model, FIELD_SLOTS)
    mlps, mlp_cpu = {}, 0.0
    for size in (free, model.n_parameters):   # the reader's free weights, and all it stores
        width = mlp.width_for(size, VOCAB_SIZE, 2, 1)
        started = time.process_time()
        fits = [fit_mlp(mlp.init([VOCAB_SIZE, width, width, 1], np.random.default_rng([seed, 2]), "lecun"),
                        bag(train["encoded"].ids), train["outcome"], dataclasses.replace(t, learning_rate=rate),
                        job["epochs"] * SUPERVISION_STEPS, np.random.default_rng([seed, 3]), offset=train["base"])
                for rate in MLP_LEARNING_RATES]   # its own best on its validation split, as the reader's
        weights = min(fits, key=lambda fit: fit[1]["validation_log_loss"])[0]
        mlp_cpu += time.process_time() - started
        mlps[f"MLP reader 2x{width} ({mlp.n_parameters(weights):,} parameters)"] = \
            mlp_probability(weights, bag(test["encoded"].ids), test["base"])
    readers = {"fields only (exact structured estimate)": test["fields_p"],
               "bag-of-words teacher (the warm start's; training rows only)": squash(teacher(test)),
               "keyword reader": _keyword(train, test),
               "bag-of-words logistic": squash(fit_bow(train)(test)),
               **mlps,
               f"reading TRM, kept: validated epoch and cap ({free:,} free of {model.n_parameters:,} stored "
               "parameters)": kept_p,
               "reading TRM, deep-supervised: best validated deep epoch, its validated cap (not kept)":
                   path[deep_cap - 1],
               "perfect reading": perfect}
    per_reader = {name: excess_log_loss(p, p_true) for name, p in readers.items()}
    groups = {"all": np.ones(len(p_true), bool), **_by_construction(test)}

    def share(loss, rows):
        fields, best = per_reader["fields only (exact structured estimate)"][rows].mean(), \
            per_reader["perfect reading"][rows].mean()
        return float((fields - loss[rows].mean()) / (fields - best))

    if job.get("out"):
        save_checkpoint(job["out"], model, {"command": job["command"], "seed": seed, "samples": job["samples"],
                                            "epochs": job["epochs"], "deep_epochs": DEEP_EPOCHS,
                                            "distil_epochs": DISTIL_EPOCHS, "readout": "sum",
                                            "supervision_steps": SUPERVISION_STEPS, "reply_start": FIELD_SLOTS,
                                            "knobs": READER_KNOBS,
                                            "selected": log["selected"], "halt_threshold": 1.0,
                                            "offset": "logit of market.structured_only_probability",
                                            "tokens": "trm_demo/funnel/tokens.py"})
    kept_excess = per_reader[next(n for n in readers if n.startswith("reading TRM, kept"))]
    return {"seed": seed, "parameters": model.n_parameters, "free_parameters": free, "selected": log["selected"],
            "selected_per_phase": {"warm_start": warm["selected"], "one_step": one_step["selected"]},
            "deep_supervised": {k: deep["record"][k] for k in ("epoch", "validation_step_cap", "validation_log_loss",
                                                               "halting_loss", "settled_share")},
            "epochs": {"warm_start": warm["epochs"], "one_step": one_step["epochs"], "deep_supervision": log["epochs"]},
            "cpu_seconds": {"reading_trm": trm_cpu, "mlp": mlp_cpu}, "flops_per_step": flops_per_step(spec),
            "readers": {name: {"excess_log_loss": float(v.mean()), "share_of_perfect_gain": share(v, groups["all"])}
                        for name, v in per_reader.items()},
            "depth": {g: {"replies": int(rows.sum()),
                          "kept": {"excess_log_loss": float(kept_excess[rows].mean()),
                                   "share_of_perfect_gain": share(kept_excess, rows)},
                          "excess_log_loss": [float(excess[s, rows].mean()) for s in range(SUPERVISION_STEPS)],
                          "share_of_perfect_gain": [share(excess[s], rows) for s in range(SUPERVISION_STEPS)]}
                      for g, rows in groups.items()},   # unlabelled per-step figures: the deep-supervised model's
            "halting": halting_rows(excess, q, SUPERVISION_STEPS, HALT_THRESHOLDS, np.random.default_rng([seed, 4]))}


def summarise(runs: list[dict]) -> dict:
    from trm_demo.funnel.evaluation import mean_ci
    names = list(runs[0]["readers"])
    return {"readers": {n: {k: mean_ci([r["readers"][n][k] for r in runs]) for k in ("excess_log_loss",
                                                                                      "share_of_perfect_gain")}
                        for n in names},
            "depth": {g: {"replies": runs[0]["depth"][g]["replies"],
                          "kept": mean_ci([r["depth"][g]["kept"]["share_of_perfect_gain"] for r in runs]),
                          "share_of_perfect_gain": [mean_ci([r["depth"][g]["share_of_perfect_gain"][s] for r in runs])
                                                    for s in range(SUPERVISION_STEPS)],
                          "excess_log_loss": [float(np.mean([r["depth"][g]["excess_log_loss"][s] for r in runs]))
                                              for s in range(SUPERVISION_STEPS)]}
                      for g in runs[0]["depth"]},
            "halting": halting_summary(runs)}


def _kept(run: dict) -> str:
    """Which reader validation kept for one seed, in words."""
    chosen, phases = run["selected"], run["selected_per_phase"]
    if chosen["epoch"]:
        return f"seed {run['seed']}: deep-supervision epoch {chosen['epoch']} at cap {chosen['step_cap']}"
    trained = (f"its outcome epoch {phases['one_step']['epoch']}" if phases["one_step"]["epoch"] else
               f"its warm-start epoch {phases['warm_start']['epoch']}, the outcome epochs validating worse")
    return f"seed {run['seed']}: the one-step reader ({trained})"


def _checkpoint_note(m: dict) -> list[str]:
    c = m.get("checkpoint")
    if not c:
        return []
    if c["same_weights_as_shipped"]:
        return ["", f"This run's checkpoint ({c['out']}) holds the shipped {c['shipped']}'s weights bit for bit."]
    made = ("with the same settings and validation choices, its weights differ by at most "
            f"{c['max_abs_difference']:.2g}: not bit-identical on this machine" if c["same_settings"] else
            "it was trained with other settings or validation chose otherwise")
    return ["", f"This run's checkpoint ({c['out']}) is not the shipped {c['shipped']}: {made}. The shipped file "
            f"was kept; every figure on this page is this run's, on {m['cpu']}."]


def markdown(result: dict) -> str:
    s, m, runs = result["summary"], result["meta"], result["runs"]

    def ci(c, f=lambda v: f"{100 * v:.1f} %"):
        return f(c["mean"]) + (f" [{f(c['ci95'][0])}, {f(c['ci95'][1])}]" if c["ci95"] else "")

    def loss(c):
        return ci(c, lambda v: f"{v:.4f}")

    one_step = [r for r in runs if not r["selected"]["epoch"]]
    deep = [r["deep_supervised"] for r in runs]
    lines = [MARKER[0], "## Reading TRM (issue 25): reading the replies", "",
             f"Measured by `{m['command']}` at commit {m['commit']}, {m['started_at']}, on {m['cpu']} "
             f"(training seeds {m['seeds']}, {m['samples']:,} labelled history replies, {m['holdout']:,} held-out replies "
             f"per seed, {m['distil_epochs']} warm-start epochs regressing a bag-of-words logistic fitted on the training rows (never the validation rows), "
             f"{m['epochs']} one-step epochs on the outcomes, then {m['deep_epochs']} of deep supervision over {SUPERVISION_STEPS} steps "
             f"with the halting head, the best validated EMA kept; CPU time, 2 shared cores: reading TRM {m['trm_cpu']:.0f} s per seed).",
             "", "Every reader starts from the same fields-only logit (the exact structured-only estimate) and is "
             "fitted on the same history's observed outcomes; the true probability is used to score only. "
             "Share of a perfect reading's gain in excess log-loss, mean over seeds with a 95 % interval.", "",
             "| reader | held-out excess log-loss | share of a perfect reading's gain |", "|---|---|---|"]
    lines += [f"| {n} | {loss(v['excess_log_loss'])} | {ci(v['share_of_perfect_gain'])} |"
              for n, v in s["readers"].items()]
    lines += ["", "Two reading TRMs, one per seed each, from the same training run: "
              f"**the kept reader**, validation's choice and the shipped checkpoint ({'; '.join(map(_kept, runs))}; "
              "validation log-loss " + ", ".join(f"{r['selected']['validation_log_loss']:.4f}" for r in runs) + "), "
              "and **the deep-supervised reader**, the best validated deep-supervision epoch's EMA, trained over "
              f"{SUPERVISION_STEPS} steps with the halting head (epoch " + ", ".join(str(d["epoch"]) for d in deep)
              + "; validation log-loss " + ", ".join(f"{d['validation_log_loss']:.4f}" for d in deep)
              + "; validated cap " + ", ".join(str(d["validation_step_cap"]) for d in deep)
              + "; last epoch's halting loss " + ", ".join(f"{d['halting_loss']:.3f}" for d in deep)
              + ", share of halt targets met " + ", ".join(f"{d['settled_share']:.2f}" for d in deep) + ")."
              + (f" Validation kept the one-step reader on {len(one_step)} of {len(runs)} seeds: it was never trained "
                 "beyond step 1, so its later steps and its (untrained) halting head say nothing about recursion; "
                 "depth is measured below on the deep-supervised reader, the model trained for it."
                 if one_step else "")]
    lines += ["", f"Depth: share of a perfect reading's gain on the held-out replies that state a fact through each "
              f"construction, for the kept reader at its validated cap (caps {m['caps']}) and for the deep-supervised "
              f"reader after each of its {SUPERVISION_STEPS} supervision steps.", "",
              "| replies | n | kept reader | " + " | ".join(f"deep-supervised, step {i + 1}"
                                                          for i in range(SUPERVISION_STEPS)) + " |",
              "|---|---|---|" + "---|" * SUPERVISION_STEPS]
    lines += [f"| {g} | {d['replies']:,} | {ci(d['kept'])} | " + " | ".join(ci(c) for c in d["share_of_perfect_gain"])
              + " |" for g, d in s["depth"].items()]
    shares = [c["mean"] for c in s["depth"]["all"]["share_of_perfect_gain"]]
    best = int(np.argmax(shares))
    lines += ["", f"On all replies the deep-supervised reader's best step is step {best + 1} "
              f"({100 * shares[best]:.1f} %; step 1: {100 * shares[0]:.1f} %, step {SUPERVISION_STEPS}: "
              f"{100 * shares[-1]:.1f} %), against the kept reader's {100 * s['depth']['all']['kept']['mean']:.1f} %."]
    lines += ["", "Halting, on the deep-supervised reader (bench/ablation.py's comparison): read to full depth once on "
              "the held-out replies; the halting head stops each reply at the first step with sigmoid(q) >= threshold, "
              "random stopping gives the same steps shuffled across replies (same mean depth, no knowledge of the "
              "reply), the fixed cap is the one nearest the head's mean steps (per seed). Held-out excess log-loss, "
              "mean over seeds with a 95 % interval; differences paired by seed (negative: the head is better).", "",
              "| threshold | mean steps | halting head | random stopping, same steps | nearest fixed cap (per seed) "
              "| head - random | head - fixed cap |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {h['halt_threshold']:g} | {ci(h['mean_steps'], lambda v: f'{v:.2f}')} | {loss(h['halting_head'])} "
              f"| {loss(h['random_stopping'])} | {loss(h['fixed_cap'])} (cap {', '.join(map(str, h['fixed_caps']))}) "
              f"| {loss(h['head_minus_random'])} | {loss(h['head_minus_fixed'])} |" for h in s["halting"]]
    lines += ["", f"Compute per read: {m['flops_per_step'] / 1e6:.2f} MFLOP per supervision step, "
              f"{m['flops_per_step'] / m['tabular_flops_per_step']:.0f}x the tabular TRM's step; priced as its steps "
              f"(simulation.trm_cost_per_step) that is ${m['price_per_read']:.5f} per read at the kept reader's mean "
              f"validated cap, {100 * m['price_per_read'] / m['llm_cost']:.2f} % of the LLM's ${m['llm_cost']:.2f} per read."]
    lines += _checkpoint_note(m) + [MARKER[1]]
    return "\n".join(lines) + "\n"


def write_bow(out: str, samples: int, command: str) -> int:
    """The funnel's bag-of-words reader (strategy bow_reader): fitted on the first training seed's `samples`
    replies, those the reading TRM trains on (one_seed's `train`; the TRM fits on their first 80 %)."""
    from trm_demo.config import load_config
    from trm_demo.funnel.bag_of_words import fit_bag_of_words, save_bag_of_words
    started = time.process_time()
    train = _data(FIRST_SEED, samples, 0, load_config().market.drift)
    reader = fit_bag_of_words(train["encoded"].ids, train["base"], train["urgency"], train["outcome"])
    save_bag_of_words(out, reader, {"command": command, "seed": FIRST_SEED, "samples": samples,
                                    "offset": "logit of market.structured_only_probability",
                                    "tokens": "trm_demo/funnel/tokens.py"})
    print(f"{out}: bag-of-words reader on {samples:,} replies of training seed {FIRST_SEED}, {len(reader.weights)} "
          f"columns, L2 {reader.l2:g}, {time.process_time() - started:.1f} CPU s")
    return 0


def _compared_with_shipped(out: str | None, shipped: str) -> dict | None:
    """Does the checkpoint this run wrote hold the shipped one's weights? None if it wrote none, or wrote the shipped
    file itself (the documented command)."""
    from trm_demo.trm.weights import is_shipped, load_checkpoint, resolve_checkpoint
    if not out or is_shipped(out):
        return None
    (ours, our_meta), (theirs, their_meta) = load_checkpoint(out), load_checkpoint(resolve_checkpoint(shipped))
    pairs = [(getattr(ours, group)[name], getattr(theirs, group)[name])
             for group in ("params", "ema", "buffers") for name in getattr(ours, group)]
    settings = [{k: v for k, v in meta.items() if k not in ("command", "selected")} for meta in (our_meta, their_meta)]
    choice = [{k: meta["selected"][k] for k in ("epoch", "step_cap")} for meta in (our_meta, their_meta)]
    return {"out": out, "shipped": shipped, "same_settings": settings[0] == settings[1] and choice[0] == choice[1],
            "same_weights_as_shipped": all(np.array_equal(a, b) for a, b in pairs),
            "max_abs_difference": max(float(np.abs(a - b).max()) for a, b in pairs)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.reader", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="write the first training seed's reading TRM checkpoint here (with --bow-only: "
                   "its bag-of-words reader's)")
    p.add_argument("--bow-only", action="store_true",
                   help="only fit the first training seed's bag-of-words reader on its --samples replies (the "
                   "shipped reading TRM's) and write it to --out; no bench figures")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--samples", type=int, default=8192)
    p.add_argument("--holdout", type=int, default=4096)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)
    if min(args.seeds, args.samples, args.holdout, args.epochs) < 1:
        p.error("--seeds, --samples, --holdout and --epochs must be at least 1")
    from trm_demo.config import load_config
    from trm_demo.funnel.local_reading import price_per_read, tabular_flops_per_step
    from trm_demo.funnel.pipeline import model_spec
    from trm_demo.funnel.tokens import SEQ_LEN, VOCAB_SIZE
    from trm_demo.trm.reader import reader_spec
    command = " ".join(["python -m bench.reader", *(argv if argv is not None else sys.argv[1:])])
    if args.bow_only:
        if not args.out:
            p.error("--bow-only writes the bag-of-words reader to --out: give it")
        return write_bow(args.out, args.samples, command)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    jobs = [{"seed": s, "samples": args.samples, "holdout": args.holdout, "epochs": args.epochs, "command": command,
             "out": args.out if s == FIRST_SEED else None} for s in range(FIRST_SEED, FIRST_SEED + args.seeds)]
    runs = in_processes(one_seed, jobs)
    cfg = load_config()
    tab = model_spec(cfg)
    tabular = tabular_flops_per_step(tab)
    mean_cap = float(np.mean([r["selected"]["step_cap"] for r in runs]))
    price = price_per_read(cfg.simulation, tab, reader_spec(VOCAB_SIZE, SEQ_LEN, HIDDEN_SIZE, EXPANSION, N_CYCLES),
                           mean_cap)   # the price the funnel's reading tier charges (funnel/local_reading.py)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO_ROOT).stdout.strip()
    result = {"runs": runs, "summary": summarise(runs),
              "meta": {"command": command, "commit": commit, "started_at": started_at, "seeds": f"{FIRST_SEED}-{FIRST_SEED + len(runs) - 1}",
                       "samples": args.samples, "holdout": args.holdout, "epochs": args.epochs, "deep_epochs": DEEP_EPOCHS,
                       "distil_epochs": DISTIL_EPOCHS, "cpu": machine()["cpu_model"],
                       "checkpoint": _compared_with_shipped(args.out, cfg.reading_trm.checkpoint),
                       "caps": ", ".join(str(r["selected"]["step_cap"]) for r in runs),
                       "trm_cpu": float(np.mean([r["cpu_seconds"]["reading_trm"] for r in runs])),
                       "flops_per_step": runs[0]["flops_per_step"], "tabular_flops_per_step": tabular,
                       "price_per_read": price, "llm_cost": cfg.simulation.llm_cost}}
    (REPO_ROOT / "bench" / "reader-results.json").write_text(json.dumps(result, indent=1) + "\n")
    section = markdown(result)
    page_path = REPO_ROOT / "docs" / "BENCHMARKS.md"
    page = page_path.read_text()
    if MARKER[0] in page:
        head, rest = page.split(MARKER[0], 1)
        page = head + section + rest.split(MARKER[1], 1)[1].lstrip("\n")
    else:
        page = page.rstrip("\n") + "\n\n" + section
    page_path.write_text(page)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The funnel run's library steps, in the order `cli.run_command` calls them: the starting model (checkpoint or seeded
init), fine-tuning on this period's recent log, the logistic baseline on the same rows, the step cap, one seed of
the multi-seed evaluation, and `pretrain`. Progress goes through the `ui` object the caller passes (anything with
`message`, `warn` and `training_progress`); nothing here prints.
"""

from __future__ import annotations

import functools
import platform
import time
from pathlib import Path

import numpy as np

from trm_demo import __version__, memo
from trm_demo.config import Config
from trm_demo.errors import CheckpointError
from trm_demo.funnel.landscape import break_even_values
from trm_demo.funnel.market import FEATURE_NAMES, N_FEATURES, training_log
from trm_demo.funnel.reading import readings_for
from trm_demo.funnel.rng import rng_for
from trm_demo.funnel.simulation import run_funnel
from trm_demo.funnel.telemetry import call_log
from trm_demo.trm.engine import TRMSpec
from trm_demo.trm.logistic import Logistic, fit_logistic
from trm_demo.trm.training import evaluate, fit, full_depth, halting_comparison
from trm_demo.trm.weights import (TRM, describe_source, init_model, load_checkpoint, resolve_checkpoint, save_checkpoint,
                                  written_source)


def model_spec(cfg: Config) -> TRMSpec:
    m = cfg.model
    return TRMSpec(N_FEATURES, m.hidden_size, m.expansion, m.n_cycles, m.outer_steps, m.activation, m.halt_bias_init)


def checkpoint_path(cfg: Config) -> Path:
    """The configured default names the installed file in any working directory; see `resolve_checkpoint`."""
    return resolve_checkpoint(cfg.training.checkpoint)


def starting_model(cfg: Config) -> TRM:
    """The seeded init, or the checkpoint with what its run decided (`TRM.decisions`, checked here)."""
    if cfg.training.from_scratch:
        return init_model(model_spec(cfg), rng_for(cfg.simulation.seed, "init"))
    path = checkpoint_path(cfg)
    model, metadata = load_checkpoint(path, expected=model_spec(cfg))
    model.decisions = recorded_decisions(path, metadata, cfg.model.supervision_steps)
    return model


def run_decisions(cfg: Config, selected: dict) -> dict:
    """What a checkpoint records of its run, so that a reload with --train-epochs 0 repeats it: the epoch and step
    cap its validation split selected, the halt threshold it ran at, and the features it read (their scaling is
    fixed in market.features, nothing fitted)."""
    return {"selected": selected, "halt_threshold": cfg.simulation.trm_halt_threshold,
            "features": list(FEATURE_NAMES)}


def recorded_decisions(path: Path, metadata: dict, supervision_steps: int) -> dict:
    """A checkpoint's `run_decisions`, refused with one line if missing, malformed or for other features."""
    def fail(problem: str, fix: str = "recreate") -> CheckpointError:
        return CheckpointError(f"checkpoint '{path}' {problem}", fix)

    if not {"selected", "halt_threshold", "features"} <= set(metadata):
        raise fail("does not record what its run decided (step cap, epoch, halt threshold, features): it predates "
                   "trm-demo recording them (a fine-tuned one is rebuilt by re-running the command in its metadata)")
    if metadata["features"] != list(FEATURE_NAMES):
        raise fail(f"was trained on other input features than this market's {N_FEATURES}")
    selected, threshold = metadata["selected"], metadata["halt_threshold"]
    if not (isinstance(selected, dict) and set(selected) == {"epoch", "step_cap", "validation_log_loss"}
            and _whole(selected["epoch"], 0) and (selected["step_cap"] is None or _whole(selected["step_cap"], 1))
            and (selected["validation_log_loss"] is None or _number(selected["validation_log_loss"]))
            and _number(threshold) and 0 <= threshold <= 1):
        raise fail("has malformed metadata ('selected' or 'halt_threshold')")
    if (selected["step_cap"] or 0) > supervision_steps:
        raise fail(f"was selected at step cap {selected['step_cap']}, above this config's model.supervision_steps "
                   f"({supervision_steps})", fix="size")
    return {"selected": selected, "halt_threshold": float(threshold)}


def _whole(value, lo: int) -> bool:
    return type(value) is int and value >= lo


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


HALTING_THRESHOLDS = (0.5, 0.7, 0.9)   # the halting comparison's operating points (held-out, after fine-tuning)


def fine_tune(cfg: Config, model: TRM, ui, use_memo: bool = False) -> dict:
    """Fine-tune on this period's recent log; measure held-out quality before and after.

    use_memo: a rerun of the same inputs reads the weights and this record from the memo (trm_demo/memo.py)
    instead of training; the record is the same but for its wall clock."""
    if model.source:
        ui.message(describe_source(model.source))
    started = time.perf_counter()
    key = memo.memo_key(model.source, memo_inputs(cfg)) if use_memo and cfg.training.epochs else None
    record = memo.recall(model, key, ui.warn) if key else None
    if record:
        ui.message(f"reused the fine-tuned weights of an identical earlier run ({memo.entry_path(key)}; "
                   f"--no-cache trains again)")
        record = {**record, "checkpoint": model.source, "wall_clock": {"seconds": time.perf_counter() - started}}
    else:
        record = _fine_tune(cfg, model, ui)
        if key:
            memo.remember(model, key, {k: v for k, v in record.items() if k != "wall_clock"}, ui.warn)
    epochs = record["epochs"]
    if epochs and "stopped" in epochs[-1]:
        ui.warn(f"training stopped early: {epochs[-1]['stopped']}")
    return record


def memo_inputs(cfg: Config) -> dict:
    """Every config value fine-tuning reads: the model and training sections, the market, the seed and threshold."""
    data = cfg.to_dict()
    return {"model": data["model"], "training": data["training"], "market": data["market"],
            "seed": cfg.simulation.seed, "halt_threshold": cfg.simulation.trm_halt_threshold}


def trains_halting(cfg: Config) -> bool:
    """Fine-tuning trains the halting head only for a run that halts with it (threshold below 1.0); pretraining
    always does, so a checkpoint serves any threshold."""
    return cfg.simulation.trm_halt_threshold < 1.0


def _fine_tune(cfg: Config, model: TRM, ui) -> dict:
    seed, t, drift = cfg.simulation.seed, cfg.training, cfg.market.drift
    x, outcome = recent_log(seed, t.samples, drift)
    holdout = training_log(rng_for(seed, "holdout"), t.holdout_samples, drift)
    cap = cfg.model.supervision_steps
    before = evaluate(model, *holdout, cap)
    started = time.perf_counter()
    with ui.training_progress(t.epochs, "fine-tuning") as on_epoch:
        trained = fit(model, x, outcome, t, t.epochs, cap, rng_for(seed, "training"),
                      cfg.simulation.trm_halt_threshold, on_epoch, train_halting=trains_halting(cfg))
    selected = trained["selected"] if t.epochs or not model.decisions else reused_selection(cfg, model, ui)
    seconds = time.perf_counter() - started
    after = full_depth(model, holdout[0], cap)   # one held-out pass for the quality figures and the halting comparison
    return {"start": "scratch" if t.from_scratch else "pretrained checkpoint",
            "checkpoint": model.source,
            "samples": t.samples, "drift": drift, "epochs": trained["epochs"], "selected": selected,
            "holdout_before": before, "holdout_after": evaluate(model, *holdout, cap, after),
            "halting": halting_comparison(model, holdout[0], holdout[2], cap, HALTING_THRESHOLDS,
                                          rng_for(seed, "halting"), after),
            "parameters": model.n_parameters, "wall_clock": {"seconds": seconds}}


def reused_selection(cfg: Config, model: TRM, ui) -> dict:
    """No fine-tuning: the checkpoint's weights with the epoch and step cap its own run selected, as that run used them."""
    recorded = model.decisions["halt_threshold"]
    if recorded != cfg.simulation.trm_halt_threshold:
        ui.warn(f"the checkpoint's run used simulation.trm_halt_threshold {recorded:g}; this run uses "
                f"{cfg.simulation.trm_halt_threshold:g}, so its TRM decisions may differ")
    return model.decisions["selected"]


def strategies_for_seed(cfg: Config, ui) -> dict:
    """One seed of the multi-seed evaluation: the whole pipeline, nothing written; totals, counterfactuals and
    the seed's break-even map (landscape.break_even_values).
    `ui` is the caller's, sent to the worker process (a quiet one: several workers' progress would garble)."""
    model = starting_model(cfg)
    training = fine_tune(cfg, model, ui)
    readings = readings_for(cfg)
    try:
        with call_log(None) as calls:
            result = run_funnel(cfg, model, fit_baseline(cfg), calls, step_cap(cfg, training), readings=readings)
    finally:
        readings.close()
    return {"strategies": result.ledger.summary(), "counterfactuals": result.counterfactuals,
            "break_even": break_even_values(*result.sample, cfg, result.keyword)}


def fit_baseline(cfg: Config) -> Logistic:
    """The logistic regression on the same recent log the TRM was fine-tuned on (same stream, same rows)."""
    return fit_logistic(*recent_log(cfg.simulation.seed, cfg.training.samples, cfg.market.drift))


@functools.lru_cache(maxsize=1)
def recent_log(seed: int, samples: int, drift: float) -> tuple[np.ndarray, np.ndarray]:
    """This period's recent log (features, observed outcomes), drawn once for fine-tuning and the baseline (~35 ms a
    draw); read-only, since both callers get the same arrays."""
    x, outcome, _ = training_log(rng_for(seed, "recent_log"), samples, drift)
    x.flags.writeable = outcome.flags.writeable = False
    return x, outcome


def step_cap(cfg: Config, training: dict) -> int:
    """The step cap the validation split chose; full depth when nothing was validated (no fine-tuning)."""
    return training["selected"]["step_cap"] or cfg.model.supervision_steps


def pretrain(cfg: Config, ui, command: str, path: Path) -> dict:
    """A checkpoint from scratch (the shipped one was made so): seeded init, last period's (drift 0) log.
    Returns what it wrote (the result `pretrain --json` prints): the checkpoint's path and SHA-256, its size,
    the training seed and log, every epoch's record, the epoch and step cap the validation split selected,
    held-out quality at every step, and the wall clock."""
    started = time.perf_counter()
    seed, t = cfg.simulation.seed, cfg.training
    model = init_model(model_spec(cfg), rng_for(seed, "init"))
    x, outcome, _ = training_log(rng_for(seed, "pretrain_log"), t.pretrain_samples, 0.0)
    with ui.training_progress(t.pretrain_epochs, "pretraining") as on_epoch:
        trained = fit(model, x, outcome, t, t.pretrain_epochs, cfg.model.supervision_steps,
                      rng_for(seed, "training"), cfg.simulation.trm_halt_threshold, on_epoch)
    holdout = training_log(rng_for(seed, "holdout"), t.holdout_samples, 0.0)
    quality = evaluate(model, *holdout, cfg.model.supervision_steps)
    save_checkpoint(path, model, {**checkpoint_metadata(cfg, "pretrained", command, trained["selected"]),
                                  "epochs": trained["epochs"], "holdout": quality})
    ui.message(f"wrote {path} ({model.n_parameters} parameters); held-out excess log-loss "
               f"{quality[0]['excess_log_loss']:.4f} at step 1, {quality[-1]['excess_log_loss']:.4f} "
               f"at step {len(quality)}")
    return {"checkpoint": written_source(path), "parameters": model.n_parameters, "seed": seed,
            "samples": t.pretrain_samples, **trained, "holdout": quality,
            "wall_clock": {"seconds": time.perf_counter() - started}}


def checkpoint_metadata(cfg: Config, kind: str, command: str, selected: dict) -> dict:
    """A run's checkpoint header: how it was made (command, seed, config hash, versions) and what it decided."""
    return {"kind": kind, "command": command, "seed": cfg.simulation.seed,
            "config_hash": cfg.digest(), "trm_demo": __version__, "numpy": np.__version__,
            "python": platform.python_version(), **run_decisions(cfg, selected)}


"""The one command: config -> pretrained TRM -> fine-tune -> funnel -> telemetry -> dossier -> summary.

`main()` reads top to bottom as that flow. Exit codes: 0 success, 1 internal
failure (traceback only with --debug), 2 bad input (one line naming the key or
flag, the value and what is allowed), 130 Ctrl-C, 143 SIGTERM, 141 stdout closed
by its reader (see stop.py).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .config import DEFAULT_CONFIG_PATH, Config, ConfigError, knob_range, load_config
from .engine import TRMSpec
from .evaluation import WorkerDied, evaluate_seeds
from .market import N_FEATURES, training_log
from .reporting import write_report
from .rng import rng_for
from .simulation import run_funnel
from .subgraph import call_log, run_metrics
from .atomic import staged, write_json
from .changes import config_changes
from .outputs import OutputPathError, check_paths, show_path
from .stop import broken_pipe, environment_error, exit_code
from .landscape import landscape
from .logistic import Logistic, fit_logistic
from .reading import readings_for
from .training import evaluate, fit, halting_comparison
from .ui import UI
from .weights import (TRM, CheckpointError, init_model, is_shipped, load_checkpoint, resolve_checkpoint,
                      save_checkpoint)

# flag -> config key it overrides
FLAG_KEYS = {"seed": "simulation.seed", "train_epochs": "training.epochs", "train_samples": "training.samples",
             "learning_rate": "training.learning_rate", "opportunities": "simulation.opportunities",
             "export_json": "report.metrics_path", "export_training_log": "report.training_log_path",
             "export_report": "report.path", "telemetry": "subgraph.path", "checkpoint": "training.checkpoint",
             "llm_provider": "llm.provider", "llm_base_url": "llm.base_url", "llm_model": "llm.model"}
# `pretrain --out` default: the working directory, so retraining never touches the shipped checkpoint.
DEFAULT_PRETRAIN_OUT = "pretrained_trm.npz"


class UsageError(Exception):
    """Bad flags or paths: exit code 2, one line."""


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["puzzle"]:   # the reasoning proof has its own sub-commands
        from .puzzle_cli import puzzle_main
        return puzzle_main(argv[1:])
    if argv[:1] == ["config"]:
        return guarded(lambda: print_config(argv[1:]), argv)
    return guarded(lambda: run(argv, started), argv)


# What `pretrain` reads: --config, --seed, --learning-rate, --out, --replace-shipped, --quiet, --debug.
# Every other flag would be silently ignored by it: refused instead (flag -> what to use).
NOT_FOR_PRETRAIN = {"save_checkpoint": "pretrain writes its checkpoint to --out PATH",
                    "train_epochs": "pretrain's epochs are training.pretrain_epochs in --config",
                    "train_samples": "pretrain's log size is training.pretrain_samples in --config",
                    **{name: "" for name in ("opportunities", "export_json", "export_training_log", "export_report",
                                             "export_html", "telemetry", "checkpoint", "seeds", "from_scratch",
                                             "json", "llm_provider", "llm_base_url", "llm_model")}}


def run(argv: list[str], started: float) -> int:
    args = parse_args(argv)
    refuse_flags_for_another_command(args)
    cfg = load_config_for(args)
    if args.seeds and cfg.simulation.seed + args.seeds - 1 > 2**32 - 1:
        raise UsageError(f"--seeds {args.seeds} from seed {cfg.simulation.seed} goes past the largest seed "
                         f"{2**32 - 1}; lower --seed or --seeds")
    outputs, prepare_outputs = check_outputs(cfg, args)   # only looks: a refused run has changed nothing
    model = None if args.command == "pretrain" else starting_model(cfg)   # the checkpoint, validated ...
    prepare_outputs()   # ... before anything on disk changes (default directories, stale temps)
    ui = UI(quiet=args.quiet)
    if args.command == "pretrain":
        return pretrain(cfg, ui, argv, outputs["pretrained"])
    training = fine_tune(cfg, model, ui)
    baseline = fit_baseline(cfg)
    with staged():   # every output completed as a temp first, then all renamed together
        metrics = simulate_and_write(cfg, args, argv, (model, baseline), training, outputs, ui, started)
    ui.summary(metrics, outputs, as_json=args.json)
    return 0


def simulate_and_write(cfg: Config, args, argv: list[str], models: tuple, training: dict, outputs: dict,
                       ui: UI, started: float) -> dict:
    model, baseline = models
    if args.save_checkpoint:
        save_checkpoint(args.save_checkpoint, model,
                        {**checkpoint_metadata(cfg, "fine-tuned", argv), "started_from": model.source})
    readings = readings_for(cfg)
    try:
        with call_log(outputs.get("telemetry")) as calls, \
                ui.simulation_progress(cfg.simulation.opportunities) as progress:
            simulation_started = time.perf_counter()
            result = run_funnel(cfg, model, baseline, calls, step_cap(cfg, training), progress, readings)
            simulation_seconds = time.perf_counter() - simulation_started
    finally:
        readings.close()   # the real reader's cache holds only whole rows, whatever stopped the run
    where_each_wins = landscape(*result.sample, cfg, rng_for(cfg.simulation.seed, "landscape"))
    metrics = run_metrics(cfg, result, training, where_each_wins, command_line(argv), {
        "simulation_seconds": simulation_seconds, "training_seconds": training["wall_clock"]["seconds"]})
    if args.seeds:
        seeds = [cfg.simulation.seed + i for i in range(args.seeds)]
        with ui.seeds_progress(len(seeds)) as on_done:
            metrics["evaluation"] = evaluate_seeds(cfg, seeds, strategies_for_seed, on_done=on_done)
    metrics["wall_clock"].update(total_seconds=time.perf_counter() - started,
                                 date=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    metrics["changes"] = config_changes(cfg, args.config, flag_keys(args), [a for a in argv if a.startswith("--")])
    write_json(outputs["training_log"], training)
    write_json(outputs["metrics"], metrics)
    write_report(outputs["report"], outputs["html"], cfg, metrics, training)
    return metrics


def refuse_flags_for_another_command(args) -> None:
    """A flag the command would ignore is refused (one line), not silently dropped."""
    if args.command == "pretrain":
        for name, hint in NOT_FOR_PRETRAIN.items():
            if getattr(args, name, None) not in (None, False):
                flag = f"--{name.replace('_', '-')}"
                raise UsageError(f"{flag} does not apply to `pretrain` (it trains a checkpoint and writes only "
                                 f"--out); {hint or 'drop it, or run without `pretrain`'}")
    elif args.replace_shipped and not args.save_checkpoint:
        raise UsageError("--replace-shipped applies only with --save-checkpoint (or `pretrain --out`); drop it")


def guarded(body: Callable[[], int], argv: list[str], input_errors: tuple = ()) -> int:
    """Run a command; map what goes wrong to exit codes and one line on stderr (shared by `puzzle`)."""
    try:
        return body()
    except (ConfigError, UsageError, CheckpointError, OutputPathError, *input_errors) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:   # Ctrl-C or SIGTERM (stop.Terminated)
        return exit_code(stop)
    except BrokenPipeError:
        return broken_pipe()
    except WorkerDied as err:   # a --seeds worker killed (kill, out-of-memory killer): not a bug of ours
        print(f"error: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 - the last line of defence: short message, exit 1
        if "--debug" in argv:
            raise
        if isinstance(err, OSError) and err.filename is not None:
            # the environment, not a bug: a full disk, a closed stdout, an output changed during the run
            print(f"error: {environment_error(err)}", file=sys.stderr)
            return 1
        print(f"internal error: {type(err).__name__}: {err} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


# --- command line ---

class OneLineParser(argparse.ArgumentParser):
    def error(self, message):   # one line, exit 2, instead of usage + error
        raise UsageError(f"{message} (see --help)")


def number_type(kind, lo, hi):
    """An argparse type: a finite number in [lo, hi]. Every numeric flag has both bounds, shown in --help."""
    allowed = f"{'a whole number' if kind is int else 'a number'} in [{lo:,}, {hi:,}]"

    def parse(text):
        try:
            value = kind(text)   # int() refuses thousands of digits itself (ValueError)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_clip(text)!r} is not a number; allowed: {allowed}")
        # only a float can be NaN or infinite; comparing an int of any size with lo and hi is exact
        if (kind is float and not math.isfinite(value)) or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{_clip(text)!r} is out of range; allowed: {allowed}")
        return value
    parse.allowed = allowed
    return parse


def _clip(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends argparse's default only where it means something (not the None of 'use the config'),
    and the allowed range of every numeric flag."""
    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is not None and "(default" not in text:
            text = super()._get_help_string(action)
        allowed = getattr(action.type, "allowed", None)
        return f"{text}; allowed: {allowed}" if allowed else text


def config_number(key: str):
    """The type of a flag that sets a config knob: the knob's own range, so flag and YAML agree."""
    lo, hi = knob_range(key)
    return number_type(int, lo, hi)


def parse_args(argv=None) -> argparse.Namespace:
    shipped = load_config()

    def default(key: str) -> str:   # e.g. "(default: 7, simulation.seed)"
        section, name = key.split(".")
        return f"(default: {getattr(getattr(shipped, section), name)}, {key})"

    p = OneLineParser(prog="trm-demo", description="Tiny Recursive Model vs greedy vs a simulated LLM in a "
                "recruiting conversion funnel. Every knob lives in config/default_config.yaml; flags override it.",
                formatter_class=HelpFormatter)
    p.add_argument("command", nargs="?", default="run", choices=("run", "pretrain"),
                   help="run: fine-tune and simulate; pretrain: train a checkpoint from scratch (see --out). "
                   "See also `python main.py config` (print the default YAML to copy) and "
                   "`python main.py puzzle --help` (the 6x6 Sudoku reasoning proof)")
    p.add_argument("--version", action="version", version=f"trm-demo {__version__}")
    p.add_argument("--config", metavar="PATH",
                   help="YAML file overriding config/default_config.yaml key by key (default: none)")
    p.add_argument("--seed", type=config_number("simulation.seed"), metavar="N",
                   help=f"run seed {default('simulation.seed')}")
    p.add_argument("--train-epochs", type=config_number("training.epochs"), metavar="N",
                   help=f"fine-tuning epochs; 0 uses the checkpoint as is {default('training.epochs')}")
    p.add_argument("--train-samples", type=config_number("training.samples"), metavar="N",
                   help=f"size of the recent log {default('training.samples')}")
    p.add_argument("--learning-rate", type=number_type(float, 1e-12, 1.0), metavar="RATE",
                   help=f"AdamW step size {default('training.learning_rate')}")
    p.add_argument("--opportunities", type=config_number("simulation.opportunities"), metavar="N",
                   help=f"opportunities to simulate {default('simulation.opportunities')}")
    p.add_argument("--export-json", metavar="PATH", help=f"metrics JSON {default('report.metrics_path')}")
    p.add_argument("--export-training-log", metavar="PATH",
                   help=f"training log JSON {default('report.training_log_path')}")
    p.add_argument("--export-report", metavar="PATH", help=f"Markdown dossier {default('report.path')}")
    p.add_argument("--export-html", metavar="PATH",
                   help="one-file HTML dossier, same content as the Markdown (default: the --export-report path "
                   "with .html)")
    p.add_argument("--telemetry", metavar="PATH", help=f"per-call telemetry JSON {default('subgraph.path')}")
    p.add_argument("--checkpoint", metavar="PATH", help=f"start from these weights {default('training.checkpoint')}")
    p.add_argument("--save-checkpoint", metavar="PATH", help="save the fine-tuned weights here (default: not saved)")
    p.add_argument("--llm-provider", choices=("simulated", "openai_compatible"),
                   help=f"who reads the replies {default('llm.provider')}; openai_compatible calls --llm-base-url")
    p.add_argument("--llm-base-url", metavar="URL",
                   help=f"OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 {default('llm.base_url')}")
    p.add_argument("--llm-model", metavar="NAME", help="model name the endpoint knows (default: llm.model); "
                   "the API key comes from TRM_DEMO_LLM_API_KEY, else OPENAI_API_KEY")
    p.add_argument("--out", metavar="PATH",
                   help=f"pretrain only: write the checkpoint here (default: {DEFAULT_PRETRAIN_OUT} in the working "
                   "directory); use it with --checkpoint PATH")
    p.add_argument("--replace-shipped", action="store_true",
                   help="allow --out or --save-checkpoint to replace a checkpoint shipped in trm_demo/checkpoints/")
    p.add_argument("--seeds", type=number_type(int, 2, 1000), metavar="N",
                   help="also rerun the whole pipeline for N seeds (seed, seed+1, ...) in parallel and report "
                   "means with 95%% confidence intervals (default: off)")
    p.add_argument("--from-scratch", action="store_true", help="ignore the checkpoint; start from the seeded init")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars or messages: print only the summary table and errors")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON on stdout instead of the table")
    p.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    args = p.parse_args(argv)
    if args.out is not None and args.command != "pretrain":
        raise UsageError("--out is the output of `pretrain`; to keep fine-tuned weights use --save-checkpoint PATH")
    return args


def overrides(args) -> dict:
    values = {FLAG_KEYS[name]: getattr(args, name) for name in FLAG_KEYS if getattr(args, name) is not None}
    if args.from_scratch:
        values["training.from_scratch"] = True
    if args.checkpoint:   # typed by the user: from the working directory, even if it looks like the package's
        values["training.checkpoint"] = os.path.abspath(args.checkpoint)
    return values


def flag_keys(args) -> dict[str, str]:
    """Config key -> the flag that set it, for the report's "What you changed"."""
    keys = {key: f"--{name.replace('_', '-')}" for name, key in FLAG_KEYS.items() if getattr(args, name) is not None}
    return {**keys, "training.from_scratch": "--from-scratch"} if args.from_scratch else keys


def load_config_for(args) -> Config:
    """The YAML plus the flags; an out-of-range flag is named as the flag the user typed."""
    try:
        return load_config(args.config, overrides(args))
    except ConfigError as err:
        flags = [f"--{name.replace('_', '-')}" for name, key in FLAG_KEYS.items()
                 if getattr(args, name) is not None and f"'{key}'" in str(err)]
        raise ConfigError(f"{err} (set by {flags[0]})" if flags else str(err)) from None


OUTPUT_FLAGS = {"metrics": "--export-json", "training_log": "--export-training-log", "report": "--export-report",
                "html": "--export-html",
                "telemetry": "--telemetry", "checkpoint": "--save-checkpoint", "pretrained": "--out"}


def check_outputs(cfg: Config, args) -> tuple[dict[str, Path], Callable[[], None]]:
    """Every output path is writable, a regular file or new, outside trm-demo's own files, and neither an input
    nor another output: checked before minutes of work (outputs.check_paths), without changing anything.
    Returns the outputs and `prepare`, to call once every input is validated (it creates default directories
    and removes stale temps)."""
    if args.command == "pretrain":
        outputs = {"pretrained": checkpoint_output(args, args.out or DEFAULT_PRETRAIN_OUT, "--out")}
    else:
        report = cfg.report.path
        outputs = {"metrics": cfg.report.metrics_path, "training_log": cfg.report.training_log_path,
                   "report": report,   # 'dir/' has no name for a twin: the report's own check refuses it first
                   "html": args.export_html or (Path(report).with_suffix(".html") if Path(report).name else report)}
        if cfg.subgraph.enabled:
            outputs["telemetry"] = cfg.subgraph.path
        if args.save_checkpoint:
            outputs["checkpoint"] = checkpoint_output(args, args.save_checkpoint, "--save-checkpoint")
    inputs = {"--config": args.config} if args.config else {}
    if args.command != "pretrain" and not cfg.training.from_scratch:
        inputs["--checkpoint"] = checkpoint_path(cfg)
    # A default directory (e.g. the shipped `assets/` when run from elsewhere) is created; a flagged one is not.
    may_create = {Path(raw).parent for name, raw in outputs.items()
                  if getattr(args, OUTPUT_FLAGS[name].lstrip("-").replace("-", "_"), None) is None}
    replace_shipped = {"--out", "--save-checkpoint"} if args.replace_shipped else set()
    # the paths as typed: check_paths sees a trailing '/' that Path() would drop
    prepare = check_paths({OUTPUT_FLAGS[name]: raw for name, raw in outputs.items()}, inputs, may_create,
                          replace_shipped)
    return {name: Path(raw) for name, raw in outputs.items()}, prepare


def checkpoint_output(args, path: str, flag: str) -> str:
    """A checkpoint to write; the shipped ones only on request, as every clone and install relies on them."""
    if is_shipped(path) and not args.replace_shipped:
        raise UsageError(f"{flag} '{show_path(path)}' would write over the checkpoints shipped with trm-demo "
                         "(trm_demo/checkpoints/); write it elsewhere and load it with --checkpoint, "
                         "or add --replace-shipped to rebuild a shipped checkpoint on purpose")
    return path


def command_line(argv: list[str]) -> str:
    return " ".join(["python main.py", *argv])


# --- the model: pretrained checkpoint, then fine-tuning ---

def model_spec(cfg: Config) -> TRMSpec:
    m = cfg.model
    return TRMSpec(N_FEATURES, m.hidden_size, m.expansion, m.n_cycles, m.outer_steps, m.activation, m.halt_bias_init)


def checkpoint_path(cfg: Config) -> Path:
    """The configured default names the installed file in any working directory; see `resolve_checkpoint`."""
    return resolve_checkpoint(cfg.training.checkpoint)


def starting_model(cfg: Config) -> TRM:
    if cfg.training.from_scratch:
        return init_model(model_spec(cfg), rng_for(cfg.simulation.seed, "init"))
    model, _ = load_checkpoint(checkpoint_path(cfg), expected=model_spec(cfg))
    return model


HALTING_THRESHOLDS = (0.5, 0.7, 0.9)   # the halting comparison's operating points (held-out, after fine-tuning)


def fine_tune(cfg: Config, model: TRM, ui: UI) -> dict:
    """Fine-tune on this period's recent log; measure held-out quality before and after."""
    seed, t, drift = cfg.simulation.seed, cfg.training, cfg.market.drift
    x, outcome, _ = training_log(rng_for(seed, "recent_log"), t.samples, drift)
    holdout = training_log(rng_for(seed, "holdout"), t.holdout_samples, drift)
    cap = cfg.model.supervision_steps
    if model.source:
        ui.message(describe_source(model.source))
    before = evaluate(model, *holdout, cap)
    started = time.perf_counter()
    with ui.training_progress(t.epochs, "fine-tuning") as on_epoch:
        trained = fit(model, x, outcome, t, t.epochs, cap, rng_for(seed, "training"),
                      cfg.simulation.trm_halt_threshold, on_epoch)
    epochs = trained["epochs"]
    seconds = time.perf_counter() - started
    if epochs and "stopped" in epochs[-1]:
        ui.warn(f"training stopped early: {epochs[-1]['stopped']}")
    return {"start": "scratch" if t.from_scratch else "pretrained checkpoint",
            "checkpoint": model.source,
            "samples": t.samples, "drift": drift, "epochs": epochs, "selected": trained["selected"],
            "holdout_before": before, "holdout_after": evaluate(model, *holdout, cap),
            "halting": halting_comparison(model, holdout[0], holdout[2], cap, HALTING_THRESHOLDS,
                                          rng_for(seed, "halting")),
            "parameters": model.n_parameters, "wall_clock": {"seconds": seconds}}


def strategies_for_seed(cfg: Config) -> dict:
    """One seed of the multi-seed evaluation: the whole pipeline, nothing written; totals and counterfactuals."""
    model = starting_model(cfg)
    training = fine_tune(cfg, model, UI(quiet=True))
    readings = readings_for(cfg)
    try:
        with call_log(None) as calls:
            result = run_funnel(cfg, model, fit_baseline(cfg), calls, step_cap(cfg, training), readings=readings)
    finally:
        readings.close()
    return {"strategies": result.ledger.summary(), "counterfactuals": result.counterfactuals}


def fit_baseline(cfg: Config) -> Logistic:
    """The logistic regression on the same recent log the TRM was fine-tuned on (same stream, same rows)."""
    x, outcome, _ = training_log(rng_for(cfg.simulation.seed, "recent_log"), cfg.training.samples, cfg.market.drift)
    return fit_logistic(x, outcome)


def step_cap(cfg: Config, training: dict) -> int:
    """The step cap the validation split chose; full depth when nothing was validated (no fine-tuning)."""
    return training["selected"]["step_cap"] or cfg.model.supervision_steps


def describe_source(source: dict) -> str:
    """One line naming the loaded checkpoint so a run can be traced to the exact file (`sha256sum` it)."""
    return f"loaded checkpoint {source['path']} (sha256 {source['sha256']})"


def pretrain(cfg: Config, ui: UI, argv: list[str], path: Path) -> int:
    """A checkpoint from scratch (the shipped one was made so): seeded init, last period's (drift 0) log."""
    seed, t = cfg.simulation.seed, cfg.training
    model = init_model(model_spec(cfg), rng_for(seed, "init"))
    x, outcome, _ = training_log(rng_for(seed, "pretrain_log"), t.pretrain_samples, 0.0)
    with ui.training_progress(t.pretrain_epochs, "pretraining") as on_epoch:
        trained = fit(model, x, outcome, t, t.pretrain_epochs, cfg.model.supervision_steps,
                      rng_for(seed, "training"), cfg.simulation.trm_halt_threshold, on_epoch)
    holdout = training_log(rng_for(seed, "holdout"), t.holdout_samples, 0.0)
    quality = evaluate(model, *holdout, cfg.model.supervision_steps)
    save_checkpoint(path, model, {**checkpoint_metadata(cfg, "pretrained", argv), **trained, "holdout": quality})
    ui.message(f"wrote {path} ({model.n_parameters} parameters); held-out excess log-loss "
               f"{quality[0]['excess_log_loss']:.4f} at step 1, {quality[-1]['excess_log_loss']:.4f} "
               f"at step {len(quality)}")
    return 0


def checkpoint_metadata(cfg: Config, kind: str, argv: list[str]) -> dict:
    return {"kind": kind, "command": command_line(argv), "seed": cfg.simulation.seed,
            "config_hash": cfg.digest(), "trm_demo": __version__, "numpy": np.__version__,
            "python": platform.python_version()}


def print_config(argv: list[str]) -> int:
    """`config [EXAMPLE]`: the default YAML (or a shipped example) on stdout, to copy and edit."""
    examples = DEFAULT_CONFIG_PATH.parent / "examples"
    p = OneLineParser(prog="trm-demo config", description="Print the default configuration (every knob, its "
                      "range and meaning) as YAML, e.g. `trm-demo config > my.yaml`, then `--config my.yaml`.")
    p.add_argument("example", nargs="?", choices=sorted(f.stem for f in examples.glob("*.yaml")),
                   help="print this shipped example instead (a partial file overriding the defaults)")
    args = p.parse_args(argv)
    path = examples / f"{args.example}.yaml" if args.example else DEFAULT_CONFIG_PATH
    sys.stdout.write(path.read_text(encoding="utf-8"))
    return 0

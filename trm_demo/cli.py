"""`trm-demo run`: config -> pretrained TRM -> fine-tune -> funnel -> telemetry -> dossier -> summary; and
`trm-demo pretrain`, which trains that pretrained TRM.

`run_command()` reads top to bottom as that flow; `add_run_flags` and `add_pretrain_flags` are the two commands'
flags in the command tree (trm_demo/__main__.py), and each takes only the flags it uses. Exit codes:
commands.guarded.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable

from trm_demo.atomic import staged, write_json
from trm_demo.commands import checkpoint_output, checkpoint_remedy, number_type, print_json
from trm_demo.config import Config, knob_range, load_config, shown_path
from trm_demo.errors import CheckpointError, ConfigError, UsageError
from trm_demo.funnel.evaluation import evaluate_seeds
from trm_demo.funnel.landscape import break_even_map, break_even_values, landscape
from trm_demo.funnel.memory import check_memory
from trm_demo.funnel.pipeline import (checkpoint_metadata, checkpoint_path, command_line, fine_tune, fit_baseline,
                                      pretrain, starting_model, step_cap, strategies_for_seed)
from trm_demo.funnel.reading import readings_for
from trm_demo.funnel.rng import rng_for
from trm_demo.funnel.simulation import run_funnel
from trm_demo.funnel.telemetry import call_log, run_metrics
from trm_demo.outputs import check_paths
from trm_demo.report.changes import config_changes
from trm_demo.report.dossier import write_report
from trm_demo.report.formats import verdicts
from trm_demo.results import RunResult
from trm_demo.trm.weights import save_checkpoint
from trm_demo.ui import UI, llm_warnings

# flag -> config key it overrides
FLAG_KEYS = {"seed": "simulation.seed", "train_epochs": "training.epochs", "train_samples": "training.samples",
             "learning_rate": "training.learning_rate", "opportunities": "simulation.opportunities",
             "export_json": "report.metrics_path", "export_training_log": "report.training_log_path",
             "export_report": "report.path", "telemetry": "subgraph.path", "checkpoint": "training.checkpoint",
             "llm_provider": "llm.provider", "llm_base_url": "llm.base_url", "llm_model": "llm.model"}
# `pretrain --out` default: the working directory, so retraining never touches the shipped checkpoint.
DEFAULT_PRETRAIN_OUT = "pretrained_trm.npz"
PRETRAIN_COMMAND = f"`python main.py pretrain` and pass --checkpoint {DEFAULT_PRETRAIN_OUT} (or run with --from-scratch)"


def run_command(args, argv: list[str], started: float) -> int:
    if args.replace_shipped and not args.save_checkpoint:
        raise UsageError("--replace-shipped applies only with --save-checkpoint (or `pretrain --out`); drop it")
    cfg = load_config_for(args)
    if args.seeds and cfg.simulation.seed + args.seeds - 1 > 2**32 - 1:
        raise UsageError(f"--seeds {args.seeds} from seed {cfg.simulation.seed} goes past the largest seed "
                         f"{2**32 - 1}; lower --seed or --seeds")
    outputs, prepare_outputs = check_outputs(cfg, args)   # only looks: a refused run has changed nothing
    model = checked_starting_model(cfg)   # the checkpoint, validated ...
    readings = readings_for(cfg)   # ... and a real LLM's test read (a server that is not there stops the run here) ...
    try:
        prepare_outputs()   # ... before anything on disk changes (default directories, stale temps)
        ui = UI(quiet=args.quiet)
        training = fine_tune(cfg, model, ui)
        baseline = fit_baseline(cfg)
        with staged():   # every output completed as a temp first, then all renamed together
            metrics = simulate_and_write(cfg, args, argv, (model, baseline, readings), training, outputs, ui,
                                         started)
    finally:
        readings.close()   # the real reader's cache holds only whole rows, whatever stopped the run
    for warning in llm_warnings(metrics.run.llm):   # on stderr, even with --quiet or --json
        ui.warn(warning)
    if args.json:
        print_json(metrics.to_dict())
    else:
        ui.summary(metrics, outputs)
    return 0


def pretrain_command(args, argv: list[str]) -> int:
    cfg = load_config_for(args)
    outputs, prepare_outputs = check_outputs(cfg, args)
    prepare_outputs()
    summary = pretrain(cfg, UI(quiet=args.quiet), argv, outputs["pretrained"])
    if args.json:
        print_json(summary)
    return 0


def checked_starting_model(cfg: Config):
    """The starting model; a bad checkpoint's error names the command that rebuilds it."""
    try:
        return starting_model(cfg)
    except CheckpointError as err:
        raise checkpoint_remedy(err, PRETRAIN_COMMAND) from None


def simulate_and_write(cfg: Config, args, argv: list[str], models: tuple, training: dict, outputs: dict,
                       ui: UI, started: float) -> RunResult:
    model, baseline, readings = models
    if args.save_checkpoint:
        save_checkpoint(args.save_checkpoint, model,
                        {**checkpoint_metadata(cfg, "fine-tuned", argv, training["selected"]), "started_from": model.source})
    with call_log(outputs.get("telemetry")) as calls, \
            ui.simulation_progress(cfg.simulation.opportunities) as progress:
        simulation_started = time.perf_counter()
        result = run_funnel(cfg, model, baseline, calls, step_cap(cfg, training), progress, readings)
        simulation_seconds = time.perf_counter() - simulation_started
    evaluation = None
    if args.seeds:
        seeds = [cfg.simulation.seed + i for i in range(args.seeds)]
        with ui.seeds_progress(len(seeds)) as on_done:
            evaluation = evaluate_seeds(cfg, seeds, partial(strategies_for_seed, ui=UI(quiet=True)),
                                        on_done=on_done)
        evaluation["verdicts"] = verdicts(evaluation["paired"])   # the sentences: report's words
        maps = evaluation.pop("break_even")                        # each seed's map, this run's seed first
    else:
        maps = [break_even_values(*result.sample, cfg, result.keyword)]
    where_each_wins = landscape(*result.sample, cfg, rng_for(cfg.simulation.seed, "landscape"),
                                break_even_map(maps, cfg))
    changes = config_changes(cfg.to_dict(), load_config().to_dict(), shown_path(args.config) if args.config else None,
                             flag_keys(args), [a for a in argv if a.startswith("--")])
    metrics = run_metrics(cfg, result, training, where_each_wins, command_line(argv), {
        "simulation_seconds": simulation_seconds, "training_seconds": training["wall_clock"]["seconds"],
        "total_seconds": time.perf_counter() - started,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}, evaluation, changes)
    write_json(outputs["training_log"], training)
    write_json(outputs["metrics"], metrics.to_dict())
    write_report(outputs["report"], outputs["html"], cfg.to_dict(), metrics, training)
    return metrics


# --- command line ---

def config_number(key: str):
    """The type of a flag that sets a config knob: the knob's own range, so flag and YAML agree."""
    lo, hi = knob_range(key)
    return number_type(int, lo, hi)


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """`run`'s flags: each overrides one config knob (FLAG_KEYS), shows its default from the shipped YAML and,
    if numeric, the knob's own range."""
    p.description = ("Tiny Recursive Model vs greedy vs a simulated LLM in a recruiting conversion funnel. Every "
                     "knob lives in config/default_config.yaml; flags override it.")
    default = shipped_default()
    add_training_flags(p, default)
    p.add_argument("--train-epochs", type=config_number("training.epochs"), metavar="N",
                   help=f"fine-tuning epochs; 0 uses the checkpoint as is {default('training.epochs')}")
    p.add_argument("--train-samples", type=config_number("training.samples"), metavar="N",
                   help=f"size of the recent log {default('training.samples')}")
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
    p.add_argument("--llm-model", metavar="NAME", help="model name the endpoint knows (default: none, llm.model); "
                   "the API key comes from TRM_DEMO_LLM_API_KEY, else OPENAI_API_KEY")
    p.add_argument("--replace-shipped", action="store_true",
                   help="allow --save-checkpoint to replace a checkpoint shipped in trm_demo/checkpoints/")
    p.add_argument("--seeds", type=number_type(int, 2, 1000), metavar="N",
                   help="also rerun the whole pipeline for N seeds (seed, seed+1, ...) in parallel and report "
                   "means with 95%% confidence intervals (default: off)")
    p.add_argument("--from-scratch", action="store_true", help="ignore the checkpoint; start from the seeded init")


def add_pretrain_flags(p: argparse.ArgumentParser) -> None:
    p.description = ("Train the tabular TRM checkpoint from scratch, as the shipped one was made: seeded init, "
                     "training.pretrain_epochs on training.pretrain_samples of the last period's log.")
    add_training_flags(p, shipped_default())
    p.add_argument("--out", metavar="PATH",
                   help=f"write the checkpoint here (default: {DEFAULT_PRETRAIN_OUT} in the working directory); "
                   "use it with `trm-demo --checkpoint PATH`")
    p.add_argument("--replace-shipped", action="store_true",
                   help="allow --out to replace a checkpoint shipped in trm_demo/checkpoints/")


def add_training_flags(p: argparse.ArgumentParser, default: Callable[[str], str]) -> None:
    """The flags `run` and `pretrain` share: the config file, the seed and the step size."""
    p.add_argument("--config", metavar="PATH",
                   help="YAML file overriding config/default_config.yaml key by key (default: none)")
    p.add_argument("--seed", type=config_number("simulation.seed"), metavar="N",
                   help=f"run seed {default('simulation.seed')}")
    p.add_argument("--learning-rate", type=number_type(float, 1e-12, 1.0), metavar="RATE",
                   help=f"AdamW step size {default('training.learning_rate')}")


def shipped_default() -> Callable[[str], str]:
    """key -> "(default: 7, simulation.seed)": the shipped YAML's value, for a flag's help."""
    shipped = load_config()

    def default(key: str) -> str:
        section, name = key.split(".")
        return f"(default: {getattr(getattr(shipped, section), name)}, {key})"
    return default


def overrides(args) -> dict:
    flags = given(args)
    values = {FLAG_KEYS[name]: value for name, value in flags.items()}
    if getattr(args, "from_scratch", False):
        values["training.from_scratch"] = True
    if flags.get("checkpoint"):   # typed by the user: from the working directory, even if it looks like the package's
        values["training.checkpoint"] = os.path.abspath(flags["checkpoint"])
    return values


def given(args) -> dict:
    """flag -> value of the FLAG_KEYS flags on the command line (`pretrain` takes only some of them)."""
    return {name: getattr(args, name) for name in FLAG_KEYS if getattr(args, name, None) is not None}


def flag_keys(args) -> dict[str, str]:
    """Config key -> the flag that set it, for the report's "What you changed"."""
    keys = {FLAG_KEYS[name]: f"--{name.replace('_', '-')}" for name in given(args)}
    return {**keys, "training.from_scratch": "--from-scratch"} if args.from_scratch else keys


def load_config_for(args) -> Config:
    """The YAML plus the flags, within the memory budget; an out-of-range flag is named as the flag the user typed."""
    try:
        cfg = load_config(args.config, overrides(args))
        check_memory(cfg)
        return cfg
    except ConfigError as err:
        flags = [f"--{name.replace('_', '-')}" for name in given(args) if f"'{FLAG_KEYS[name]}'" in str(err)]
        raise ConfigError(f"{err} (set by {flags[0]})" if flags else str(err)) from None


OUTPUT_FLAGS = {"metrics": "--export-json", "training_log": "--export-training-log", "report": "--export-report",
                "html": "--export-html",
                "telemetry": "--telemetry", "checkpoint": "--save-checkpoint", "pretrained": "--out",
                "llm_cache": "llm.cache_path"}


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
        if cfg.llm.provider != "simulated":   # the real reader's cache is written like any output
            outputs["llm_cache"] = cfg.llm.cache_path
    inputs = {"--config": args.config} if args.config else {}
    if args.command != "pretrain" and not cfg.training.from_scratch:
        inputs["--checkpoint"] = checkpoint_path(cfg)
    # A default directory (e.g. the shipped `assets/` when run from elsewhere) is created; a flagged one is not.
    may_create = {Path(raw).parent for name, raw in outputs.items() if name != "llm_cache"
                  and getattr(args, OUTPUT_FLAGS[name].lstrip("-").replace("-", "_"), None) is None}
    replace_shipped = {"--out", "--save-checkpoint"} if args.replace_shipped else set()
    # the paths as typed: check_paths sees a trailing '/' that Path() would drop
    prepare = check_paths({OUTPUT_FLAGS[name]: raw for name, raw in outputs.items()}, inputs, may_create,
                          replace_shipped)
    return {name: Path(raw) for name, raw in outputs.items()}, prepare

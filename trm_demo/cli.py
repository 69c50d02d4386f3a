"""The one command: config -> pretrained TRM -> fine-tune -> funnel -> telemetry -> dossier -> summary.

`main()` reads top to bottom as that flow. Exit codes: 0 success, 1 internal
failure (traceback only with --debug), 2 bad input (one line naming the key or
flag, the value and what is allowed), 130 Ctrl-C, 143 SIGTERM, 141 stdout closed
by its reader (see stop.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from trm_demo import __version__
from trm_demo.atomic import staged, write_json
from trm_demo.commands import (GLOBAL_FLAGS, HelpFormatter, OneLineParser, UsageError, checkpoint_output,
                               checkpoint_remedy, global_flags, guarded, number_type, print_json)
from trm_demo.config import (DEFAULT_CONFIG_PATH, Config, ConfigError, knob_range, load_config, read_yaml,
                             shown_path)
from trm_demo.funnel.evaluation import evaluate_seeds
from trm_demo.funnel.landscape import landscape
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
from trm_demo.trm.weights import CheckpointError, save_checkpoint
from trm_demo.ui import UI

# flag -> config key it overrides
FLAG_KEYS = {"seed": "simulation.seed", "train_epochs": "training.epochs", "train_samples": "training.samples",
             "learning_rate": "training.learning_rate", "opportunities": "simulation.opportunities",
             "export_json": "report.metrics_path", "export_training_log": "report.training_log_path",
             "export_report": "report.path", "telemetry": "subgraph.path", "checkpoint": "training.checkpoint",
             "llm_provider": "llm.provider", "llm_base_url": "llm.base_url", "llm_model": "llm.model"}
# `pretrain --out` default: the working directory, so retraining never touches the shipped checkpoint.
DEFAULT_PRETRAIN_OUT = "pretrained_trm.npz"
PRETRAIN_COMMAND = f"`python main.py pretrain` and pass --checkpoint {DEFAULT_PRETRAIN_OUT} (or run with --from-scratch)"


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    argv = sys.argv[1:] if argv is None else argv
    lead = next((i for i, arg in enumerate(argv) if arg not in GLOBAL_FLAGS), len(argv))   # global flags first?
    if argv[lead:lead + 1] == ["puzzle"]:   # the reasoning proof has its own sub-commands
        from trm_demo.sudoku.cli import puzzle_main   # late: the funnel run never loads the Sudoku proof
        return puzzle_main(argv[:lead] + argv[lead + 1:])
    if argv[lead:lead + 1] == ["config"]:
        return guarded(lambda: print_config(argv[:lead] + argv[lead + 1:]), argv)
    return guarded(lambda: run(argv, started), argv)


# What `pretrain` reads: --config, --seed, --learning-rate, --out, --replace-shipped and the global flags.
# Every other flag would be silently ignored by it: refused instead (flag -> what to use).
NOT_FOR_PRETRAIN = {"save_checkpoint": "pretrain writes its checkpoint to --out PATH",
                    "train_epochs": "pretrain's epochs are training.pretrain_epochs in --config",
                    "train_samples": "pretrain's log size is training.pretrain_samples in --config",
                    **{name: "" for name in ("opportunities", "export_json", "export_training_log", "export_report",
                                             "export_html", "telemetry", "checkpoint", "seeds", "from_scratch",
                                             "llm_provider", "llm_base_url", "llm_model")}}


def run(argv: list[str], started: float) -> int:
    args = parse_args(argv)
    refuse_flags_for_another_command(args)
    cfg = load_config_for(args)
    if args.seeds and cfg.simulation.seed + args.seeds - 1 > 2**32 - 1:
        raise UsageError(f"--seeds {args.seeds} from seed {cfg.simulation.seed} goes past the largest seed "
                         f"{2**32 - 1}; lower --seed or --seeds")
    outputs, prepare_outputs = check_outputs(cfg, args)   # only looks: a refused run has changed nothing
    model = None if args.command == "pretrain" else checked_starting_model(cfg)   # the checkpoint, validated ...
    prepare_outputs()   # ... before anything on disk changes (default directories, stale temps)
    ui = UI(quiet=args.quiet)
    if args.command == "pretrain":
        summary = pretrain(cfg, ui, argv, outputs["pretrained"])
        if args.json:
            print_json(summary)
        return 0
    training = fine_tune(cfg, model, ui)
    baseline = fit_baseline(cfg)
    with staged():   # every output completed as a temp first, then all renamed together
        metrics = simulate_and_write(cfg, args, argv, (model, baseline), training, outputs, ui, started)
    if args.json:
        print_json(metrics)
    else:
        ui.summary(metrics, outputs)
    return 0


def checked_starting_model(cfg: Config):
    """The starting model; a bad checkpoint's error names the command that rebuilds it."""
    try:
        return starting_model(cfg)
    except CheckpointError as err:
        raise checkpoint_remedy(err, PRETRAIN_COMMAND) from None


def simulate_and_write(cfg: Config, args, argv: list[str], models: tuple, training: dict, outputs: dict,
                       ui: UI, started: float) -> dict:
    model, baseline = models
    if args.save_checkpoint:
        save_checkpoint(args.save_checkpoint, model,
                        {**checkpoint_metadata(cfg, "fine-tuned", argv, training["selected"]), "started_from": model.source})
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
        metrics["evaluation"]["verdicts"] = verdicts(metrics["evaluation"]["paired"])   # the sentences: report's words
    metrics["wall_clock"].update(total_seconds=time.perf_counter() - started,
                                 date=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    metrics["changes"] = config_changes(cfg.to_dict(), load_config().to_dict(), shown_path(args.config) if args.config else None,
                                        flag_keys(args), [a for a in argv if a.startswith("--")])
    write_json(outputs["training_log"], training)
    write_json(outputs["metrics"], metrics)
    write_report(outputs["report"], outputs["html"], cfg.to_dict(), metrics, training)
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


# --- command line ---

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
                formatter_class=HelpFormatter, parents=[global_flags()])
    p.add_argument("command", nargs="?", default="run", choices=("run", "pretrain", "puzzle", "config"),
                   help="run: fine-tune and simulate; pretrain: train a checkpoint from scratch (see --out); "
                   "puzzle: the 6x6 Sudoku reasoning proof (`trm-demo puzzle --help`); "
                   "config: print the default YAML to copy (`trm-demo config --help`)")
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
    p.add_argument("--llm-model", metavar="NAME", help="model name the endpoint knows (default: none, llm.model); "
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
    args, unknown = p.parse_known_args(argv)
    if args.command in ("puzzle", "config"):   # main() dispatches them when they come first
        raise UsageError(f"`{args.command}` must come before the other flags (only the global flags "
                         f"{', '.join(GLOBAL_FLAGS)} may precede it): `trm-demo {args.command} ...`")
    if unknown:
        p.error(f"unrecognized arguments: {' '.join(unknown)}")
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


def print_config(argv: list[str]) -> int:
    """`config [EXAMPLE]`: the default YAML (or a shipped example) on stdout, to copy and edit;
    with --json the same content parsed, as JSON."""
    examples = DEFAULT_CONFIG_PATH.parent / "examples"
    p = OneLineParser(prog="trm-demo config", description="Print the default configuration (every knob, its "
                      "range and meaning) as YAML, e.g. `trm-demo config > my.yaml`, then `--config my.yaml`.",
                      formatter_class=HelpFormatter, parents=[global_flags()])
    p.add_argument("example", nargs="?", choices=sorted(f.stem for f in examples.glob("*.yaml")),
                   help="print this shipped example instead, a partial file overriding the defaults "
                   "(default: the whole default configuration)")
    options = argv[:argv.index("--")] if "--" in argv else argv
    flags = [a for a in options if a.startswith("-") and a not in (*GLOBAL_FLAGS, "-h", "--help")]
    if flags:
        raise UsageError(f"{flags[0].split('=')[0]} does not apply to `config`: it takes an example name and the "
                         f"global flags {', '.join(GLOBAL_FLAGS)}")
    args = p.parse_args(argv)
    path = examples / f"{args.example}.yaml" if args.example else DEFAULT_CONFIG_PATH
    if args.json:
        print_json(read_yaml(path))
    else:
        sys.stdout.write(path.read_text(encoding="utf-8"))
    return 0

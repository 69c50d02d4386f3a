"""`trm-demo run`: config -> pretrained TRM -> fine-tune -> funnel -> telemetry -> dossier -> summary; and
`trm-demo pretrain`, which trains that pretrained TRM.

`run_command()` reads top to bottom as that flow; `add_run_flags` and `add_pretrain_flags` are the two commands'
flags in the command tree (trm_demo/__main__.py), and each takes only the flags it uses. Exit codes:
commands.guarded.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable

from trm_demo.atomic import staged, write_json
from trm_demo.commands import checkpoint_output, checkpoint_remedy, command_text, invocation, print_json
from trm_demo.config import Config, load_config, shown_path
from trm_demo.errors import CheckpointError, ConfigError, UsageError
from trm_demo.funnel.evaluation import evaluate_seeds
from trm_demo.funnel.bag_of_words import bag_of_words
from trm_demo.funnel.local_reading import reading_trm
from trm_demo.funnel.landscape import break_even_map, break_even_values, landscape, remembered_break_even
from trm_demo.funnel.memory import check_memory
from trm_demo.funnel.pipeline import (checkpoint_metadata, checkpoint_path, fine_tune, fit_baseline, pretrain,
                                      starting_model, step_cap, strategies_for_seed)
from trm_demo.funnel.reading import readings_for
from trm_demo.funnel.rng import rng_for
from trm_demo.funnel.simulation import remembered_beliefs, run_funnel
from trm_demo.funnel.telemetry import call_log, run_metrics
from trm_demo.outputs import check_paths
from trm_demo.report.changes import config_changes
from trm_demo.report.dossier import write_report
from trm_demo.report.formats import verdicts
from trm_demo.results import RunResult
from trm_demo.run_flags import DEFAULT_PRETRAIN_OUT, flag_keys, overrides, with_flag
from trm_demo.trm.weights import save_checkpoint
from trm_demo.ui import UI, llm_warnings

def pretrain_hint() -> str:
    """What rebuilds the tabular checkpoint, as the user runs trm-demo."""
    return (f"`{invocation()} pretrain` and pass --checkpoint {DEFAULT_PRETRAIN_OUT} (or run with --from-scratch)")


def run_command(args, argv: list[str], started: float) -> int:
    if args.replace_shipped and not args.save_checkpoint:
        raise UsageError("--replace-shipped applies only with --save-checkpoint (or `pretrain --out`); drop it")
    cfg = load_config_for(args)
    if args.seeds and cfg.simulation.seed + args.seeds - 1 > 2**32 - 1:
        raise UsageError(f"--seeds {args.seeds} from seed {cfg.simulation.seed} goes past the largest seed "
                         f"{2**32 - 1}; lower --seed or --seeds")
    outputs, prepare_outputs = check_outputs(cfg, args)   # only looks: a refused run has changed nothing
    model = checked_starting_model(cfg)   # the checkpoint, validated ...
    if cfg.reading_trm.enabled:
        reading_trm(cfg.reading_trm.checkpoint)   # ... and the reading TRM's and its bag-of-words rival's ...
        bag_of_words()
    readings = readings_for(cfg)   # ... and a real LLM's test read (a server that is not there stops the run here) ...
    try:
        prepare_outputs()   # ... before anything on disk changes (default directories, stale temps)
        ui = UI(quiet=args.quiet)
        training = fine_tune(cfg, model, ui, use_memo=not args.no_cache)
        baseline = fit_baseline(cfg)
        # the history's fits through the memo, written (like the fine-tuned weights) before the staged outputs
        beliefs = remembered_beliefs(cfg, model, step_cap(cfg, training), ui.warn) if memoised(cfg, args) else None
        with staged():   # every output completed as a temp first, then all renamed together
            metrics = simulate_and_write(cfg, args, argv, (model, baseline, readings, beliefs), training, outputs,
                                         ui, started)
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
    summary = pretrain(cfg, UI(quiet=args.quiet), command_text(argv), outputs["pretrained"])
    if args.json:
        print_json(summary)
    return 0


def memoised(cfg: Config, args) -> bool:
    """Whether the run keeps what it derives from the fine-tuned weights in the memo beside them: as fine_tune
    keeps those, unless --no-cache, and only when it trains (a run that does not leaves no memo behind)."""
    return not args.no_cache and cfg.training.epochs > 0


def checked_starting_model(cfg: Config):
    """The starting model; a bad checkpoint's error names the command that rebuilds it."""
    try:
        return starting_model(cfg)
    except CheckpointError as err:
        raise checkpoint_remedy(err, pretrain_hint()) from None


def simulate_and_write(cfg: Config, args, argv: list[str], models: tuple, training: dict, outputs: dict,
                       ui: UI, started: float) -> RunResult:
    model, baseline, readings, beliefs = models
    cap = step_cap(cfg, training)
    if args.save_checkpoint:
        save_checkpoint(args.save_checkpoint, model,
                        {**checkpoint_metadata(cfg, "fine-tuned", command_text(argv), training["selected"]), "started_from": model.source})
    with call_log(outputs.get("telemetry")) as calls, \
            ui.simulation_progress(cfg.simulation.opportunities) as progress:
        simulation_started = time.perf_counter()
        result = run_funnel(cfg, model, baseline, calls, cap, progress, readings, beliefs)
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
        maps = [remembered_break_even(*result.sample, cfg, result.keyword, model, ui.warn) if memoised(cfg, args)
                else break_even_values(*result.sample, cfg, result.keyword)]
    where_each_wins = landscape(*result.sample, cfg, rng_for(cfg.simulation.seed, "landscape"),
                                break_even_map(maps, cfg), result.keyword)
    changes = config_changes(cfg.to_dict(), load_config().to_dict(), shown_path(args.config) if args.config else None,
                             flag_keys(args), [a for a in argv if a.startswith("--")])
    metrics = run_metrics(cfg, result, training, where_each_wins, command_text(argv), {
        "simulation_seconds": simulation_seconds, "training_seconds": training["wall_clock"]["seconds"],
        "total_seconds": time.perf_counter() - started,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}, evaluation, changes)
    write_json(outputs["training_log"], training)
    write_json(outputs["metrics"], metrics.to_dict())
    write_report(outputs["report"], outputs["html"], cfg.to_dict(), metrics, training)
    return metrics


# --- command line ---

def load_config_for(args) -> Config:
    """The YAML plus the flags, within the memory budget; an out-of-range flag is named as the flag the user typed."""
    try:
        cfg = load_config(args.config, overrides(args))
        check_memory(cfg)
        return cfg
    except ConfigError as err:
        raise ConfigError(with_flag(str(err), args)) from None


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
    # A default directory (e.g. the shipped `assets/` when run from elsewhere) is created; one a flag names
    # (the HTML twin's is --export-report's) only with --make-dirs: a typo must not create /nonexistent/dir.
    typed = {name for name in outputs if getattr(args, OUTPUT_FLAGS[name].lstrip("-").replace("-", "_"), None)}
    if "report" in typed and not args.export_html:
        typed.add("html")
    may_create = {Path(raw).parent for name, raw in outputs.items() if name != "llm_cache"
                  and (args.make_dirs or name not in typed)}
    replace_shipped = {"--out", "--save-checkpoint"} if args.replace_shipped else set()
    # the paths as typed: check_paths sees a trailing '/' that Path() would drop
    prepare = check_paths({OUTPUT_FLAGS[name]: raw for name, raw in outputs.items()}, inputs, may_create,
                          replace_shipped, make_dirs="--make-dirs")
    return {name: Path(raw) for name, raw in outputs.items()}, prepare

"""python main.py puzzle train|eval|solve: the 6×6 Sudoku reasoning proof from the terminal.

- train: seeded data split + ACT training, writes a checkpoint to --out (progress on stderr).
- eval:  the shipped checkpoint on held-out puzzles, steps 1..16; writes JSON and the report.
- solve: one puzzle, the board after every supervision step, changed cells highlighted,
         until the halting head stops it.
With the global --json, each prints its result as one JSON document on stdout instead (messages stay on stderr).
`add_puzzle_commands` is their part of the command tree (trm_demo/__main__.py). Exit codes: commands.guarded.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from trm_demo import __version__
from trm_demo.atomic import staged, write_json
from trm_demo.commands import (HelpFormatter, OneLineParser, checkpoint_output, checkpoint_remedy, command_text,
                               global_flags, invocation, number_type, print_json)
from trm_demo.errors import CheckpointError, UsageError
from trm_demo.trm.engine import initial_state, sigmoid, supervision_step
from trm_demo.outputs import check_paths, show_path
from trm_demo.sudoku.puzzles import CELLS, SIZE, format_board, held_out_set, is_solution, parse_board, solve
from trm_demo.ui import Console, first_fitting, message_console, output_console
from trm_demo.sudoku.baselines import compare_baselines
from trm_demo.sudoku.evaluate import evaluate_sudoku
from trm_demo.sudoku.report import write_reasoning_report
from trm_demo.sudoku.train import PuzzleTraining, sudoku_spec, train_sudoku
from trm_demo.trm.weights import SHIPPED_DIR, describe_source, load_checkpoint, save_checkpoint, written_source

DEFAULT_CHECKPOINT = SHIPPED_DIR / "sudoku_trm.npz"
DEFAULT_TRAIN_OUT = Path("sudoku_trm.npz")   # the working directory: retraining never touches the shipped one
DEFAULT_REPORT = Path("assets") / "trm_reasoning_report.md"
# Upper bounds of the numeric flags: generous next to the defaults (2,500 iterations, 128 slots,
# 3,000 + 500 puzzles, 16 steps), and low enough that no flag can make a run take days or
# gigabytes: eval scores all its puzzles in one batch, and each slot or puzzle carries its (y, z).
MAX_ITERATIONS = 100_000
MAX_SLOTS = 1024
MAX_TRAIN_PUZZLES = 20_000
MAX_TEST_PUZZLES = 2_000
MAX_STEPS = 64
COMMANDS = {"train": "train the Sudoku TRM (ACT carry) and write its checkpoint",
            "eval": "held-out accuracy at every step; writes JSON and the report",
            "solve": "watch the model solve one puzzle, step by step"}


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range; allowed: strictly between 0 and 1")
    return value


def add_puzzle_commands(p: argparse.ArgumentParser) -> None:
    """`trm-demo puzzle`'s sub-commands; every flag has help and shows its default."""
    common = global_flags(sub_command=True)
    p.description = ("6×6 Sudoku: the same Tiny Recursive Model core, learning to reason step by step. "
                     "Run as `trm-demo puzzle` or `python main.py puzzle`; the global flags (--quiet, --json, --debug) "
                     "go before `puzzle`, between it and the sub-command, or after the sub-command.")
    sub = p.add_subparsers(dest="puzzle_command", metavar="{train,eval,solve}", required=True,
                           parser_class=OneLineParser)

    t = sub.add_parser("train", help=COMMANDS["train"], description=COMMANDS["train"],
                       formatter_class=HelpFormatter, parents=[common])
    defaults = PuzzleTraining()
    t.add_argument("--seed", type=number_type(int, 0, 2**32 - 1), default=defaults.seed, help="data, init and training seed")
    t.add_argument("--iterations", type=number_type(int, 1, MAX_ITERATIONS), default=defaults.iterations,
                   help=f"supervision (= optimiser) steps (default: {defaults.iterations})")
    t.add_argument("--slots", type=number_type(int, 1, MAX_SLOTS), default=defaults.slots,
                   help=f"puzzles in flight per step (default: {defaults.slots})")
    t.add_argument("--train-puzzles", type=number_type(int, 1, MAX_TRAIN_PUZZLES), default=defaults.train_puzzles,
                   help="distinct puzzles to train on (generating them takes ~20 ms each)")
    t.add_argument("--test-puzzles", type=number_type(int, 1, MAX_TEST_PUZZLES), default=defaults.test_puzzles,
                   help="distinct puzzles held out for eval")
    t.add_argument("--learning-rate", type=number_type(float, 1e-12, 1.0), default=defaults.learning_rate,
                   help="peak step size (linear warm-up, then cosine to 0)")
    t.add_argument("--out", type=Path, default=DEFAULT_TRAIN_OUT,
                   help="where to write the checkpoint (default: sudoku_trm.npz in the working directory); "
                        "eval and solve read it with --checkpoint PATH")
    t.add_argument("--replace-shipped", action="store_true",
                   help="allow --out to replace the checkpoint shipped in trm_demo/checkpoints/")
    t.add_argument("--compare", action="store_true",
                   help="also train the one-pass and flat-MLP baselines at equal compute (about doubles the time); "
                        "their held-out scores are stored in the checkpoint and shown by eval")

    e = sub.add_parser("eval", help=COMMANDS["eval"], description=COMMANDS["eval"], parents=[common],
                       formatter_class=HelpFormatter)
    e.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="Sudoku checkpoint to evaluate")
    e.add_argument("--puzzles", type=number_type(int, 1, MAX_TEST_PUZZLES), default=None,
                   help="held-out puzzles to use (default: all the checkpoint held out)")
    e.add_argument("--steps", type=number_type(int, 1, MAX_STEPS), default=16, help="supervision steps to run (default: 16)")
    e.add_argument("--export-json", type=Path, default=Path("sudoku_eval.json"), metavar="PATH",
                   help="results JSON path (default: sudoku_eval.json)")
    e.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="Markdown report path")

    s = sub.add_parser("solve", help=COMMANDS["solve"], description=COMMANDS["solve"], formatter_class=HelpFormatter,
                       parents=[common])
    s.add_argument("puzzle", help='36 characters, row by row: 1-6 for givens, 0 or . for blanks')
    s.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="Sudoku checkpoint that solves it")
    s.add_argument("--max-steps", type=number_type(int, 1, MAX_STEPS), default=16,
                   help="stop after this many supervision steps at the latest")
    s.add_argument("--stop", choices=("halt", "unchanged"), default="halt",
                   help="halt: stop when the halting head's sigmoid(q) reaches --halt-threshold (default); "
                        "unchanged: stop when the answer equals the previous step's")
    # 0.9, not 0.5: at step 1 the head is over-confident (eval: 0.5 stops after 1.8 steps at 93 %
    # exact-solve, 0.9 after 2.0 steps at 99.6 %; the prototype saw the same).
    s.add_argument("--halt-threshold", type=_probability, default=0.9,
                   help="with --stop halt: stop when sigmoid(q) reaches this (default: 0.9)")


def puzzle_command(args: argparse.Namespace, argv: list[str]) -> int:
    command = {"train": train_command, "eval": eval_command, "solve": solve_command}[args.puzzle_command]
    return command(args, argv)


def _check_outputs(outputs: dict[str, Path], inputs: dict[str, Path], argv: list[str],
                   replace_shipped: bool = False) -> Callable[[], None]:
    """The funnel's check (outputs.check_paths): before any work, nothing an input or another output, nothing
    inside trm-demo's own files; changes nothing. Returns `prepare`, to call once the inputs are validated."""
    typed = {flag: _as_typed(path, argv) for flag, path in outputs.items()}
    return check_paths(typed, inputs, may_create={DEFAULT_REPORT.parent} & {p.parent for p in outputs.values()},
                       replace_shipped=set(outputs) if replace_shipped else set())


def _as_typed(path: Path, argv: list[str]) -> str | Path:
    """The path as the user typed it: argparse's Path() drops a trailing '/' (or '/.'), which names a directory."""
    for token in argv:
        value = token.split("=", 1)[1] if token.startswith("--") and "=" in token else token
        if value != str(path) and value and Path(value) == path:
            return value
    return path


def versions() -> dict:
    """The software behind a checkpoint or a result, recorded with it by `train` and `eval`."""
    return {"trm_demo": __version__, "numpy": np.__version__, "python": platform.python_version()}


# --- train ---

def train_command(args, argv) -> int:
    checkpoint_output(args, args.out, "--out")
    _check_outputs({"--out": args.out}, {}, argv, replace_shipped=args.replace_shipped)()   # no input to validate
    cfg = PuzzleTraining(seed=args.seed, iterations=args.iterations, slots=args.slots,
                         train_puzzles=args.train_puzzles, test_puzzles=args.test_puzzles,
                         learning_rate=args.learning_rate)
    err = message_console()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]} · solved in slots {task.fields[solved]}"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True,
                        disable=args.quiet or not err.is_terminal)
    with progress:
        task = progress.add_task("training (ACT carry)", total=cfg.iterations, loss="-", solved="-")

        def on_iteration(done, record):
            progress.update(task, completed=done, loss=f"{record['loss']:.4f}",
                            solved=f"{record.get('slots_solved', 0.0):.0%}")
            if not args.quiet and not err.is_terminal and done % 500 == 0:
                err.print(f"iteration {done}/{cfg.iterations}: loss {record['loss']:.4f}")

        def on_phase(text):
            if not args.quiet:
                err.print(text)

        model, summary, (train, held_out) = train_sudoku(cfg, on_iteration, on_phase)
    metadata = {"kind": "sudoku", "command": command_text(argv), "seed": cfg.seed,
                "config": summary["config"], "n_parameters": summary["n_parameters"],
                "final": summary["log"][-1], "wall_clock": summary["wall_clock"], **versions()}
    save_checkpoint(args.out, model, metadata)
    clock = summary["wall_clock"]
    if not args.quiet:
        err.print(f"wrote {args.out}: {summary['n_parameters']:,} parameters, "
                  f"{cfg.iterations} iterations × {cfg.slots} slots in {clock['training_seconds']:.0f} s "
                  f"(+ {clock['data_seconds']:.0f} s generating puzzles); final loss {summary['log'][-1]['loss']:.4f}")
    if args.compare:
        # saved first, so a failed or interrupted comparison never costs the trained model
        metadata["comparisons"] = compare_baselines(cfg, train, held_out, None if args.quiet else err.print)
        save_checkpoint(args.out, model, metadata)
        if not args.quiet:
            for row in metadata["comparisons"]:
                err.print(f"{row['name']}: {row['summary']} [{row['training_seconds']:.0f} s]")
    if args.json:   # the facts of the lines above, and the file's SHA-256
        print_json({"checkpoint": written_source(args.out), "parameters": summary["n_parameters"],
                    "config": summary["config"], "iterations": cfg.iterations, "slots": cfg.slots,
                    "final_loss": summary["log"][-1]["loss"], "final": summary["log"][-1],
                    "wall_clock": clock, "comparisons": metadata.get("comparisons")})
    return 0


# --- eval ---

def train_hint() -> str:
    return f"`{invocation()} puzzle train` and pass --checkpoint sudoku_trm.npz"


def load_sudoku_model(path: Path):
    """The checkpoint's own checks (weights.py), then the Sudoku shape of model and metadata eval relies on."""
    try:
        model, metadata = load_checkpoint(path)
    except CheckpointError as err:
        raise checkpoint_remedy(err, train_hint()) from None
    expected = sudoku_spec(model.spec.hidden_size, model.spec.n_cycles, model.spec.outer_steps, model.spec.expansion)
    if model.spec != expected or metadata.get("kind") != "sudoku":
        raise CheckpointError(f"checkpoint '{path}' is not a 6×6 Sudoku model; "
                              f"pass a checkpoint written by `{invocation()} puzzle train`")
    problem = _sudoku_metadata_problem(metadata)
    if problem:
        raise CheckpointError(f"checkpoint '{path}' has malformed metadata ({problem}); recreate it with {train_hint()}")
    return model, metadata


def _sudoku_metadata_problem(metadata: dict) -> str | None:
    """What eval reads from the metadata, checked so a forged file fails here with one line, not later."""
    def whole(value, lo, hi=None) -> bool:
        return type(value) is int and lo <= value and (hi is None or value <= hi)

    config, comparisons = metadata.get("config"), metadata.get("comparisons") or []
    if not whole(metadata.get("seed"), 0, 2**32 - 1):
        return "'seed' must be a whole number in [0, 2**32 - 1]"
    if not isinstance(config, dict) or not whole(config.get("test_puzzles"), 1):
        return "'config.test_puzzles' must be a whole number >= 1"
    if not isinstance(comparisons, list) or not all(
            isinstance(row, dict) and isinstance(row.get("name"), str) and isinstance(row.get("summary"), str)
            and _numbers(row.get("exact_solve_by_step", [])) for row in comparisons):
        return "'comparisons' must be a list of {name, summary, exact_solve_by_step} records"
    return None


def _numbers(values) -> bool:
    return isinstance(values, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def eval_command(args, argv) -> int:
    html = args.report.with_suffix(".html") if args.report.name else args.report   # the twin; "." is refused
    prepare_outputs = _check_outputs({"--export-json": args.export_json, "--report": args.report,
                                      "--report (HTML twin)": html},
                                     {"--checkpoint": args.checkpoint}, argv)   # only looks
    model, metadata = load_sudoku_model(args.checkpoint)
    held_out_count = metadata["config"]["test_puzzles"]
    count = args.puzzles or held_out_count
    if count > held_out_count:   # --puzzles against the checkpoint: every input checked before anything changes
        raise UsageError(f"--puzzles {count}: checkpoint '{show_path(args.checkpoint)}' held out only "
                         f"{held_out_count} puzzles (more would overlap its training orbits); lower --puzzles, "
                         "or retrain with a larger --test-puzzles")
    prepare_outputs()   # default directory, stale temps
    err = message_console(quiet=args.quiet)   # --quiet: the table and errors only
    err.print(describe_source(model.source))
    started = time.perf_counter()
    err.print(f"evaluating on {count} held-out puzzles (orbit-disjoint from training), steps 1..{args.steps}")
    held_out = held_out_set(count, metadata["seed"])
    data_seconds = time.perf_counter() - started
    result = evaluate_sudoku(model, held_out, args.steps)
    result.update({"checkpoint": model.source, "n_parameters": model.n_parameters,
                   "training": {"command": metadata.get("command"), "seed": metadata["seed"],
                                "wall_clock": metadata.get("wall_clock"), "config": metadata["config"]},
                   "comparisons": metadata.get("comparisons"),
                   "command": command_text(argv), "versions": versions(),
                   "wall_clock": {"data_seconds": data_seconds, "total_seconds": time.perf_counter() - started}})
    with staged():   # all complete, or none replaced
        write_json(args.export_json, result)
        write_reasoning_report(args.report, html, result)
    if args.json:
        print_json(result)
    else:
        print_eval_table(output_console(), result)
    err.print(f"wrote {args.export_json}, {args.report} and {html} in {time.perf_counter() - started:.1f} s")
    return 0


def print_eval_table(console: Console, result: dict) -> None:
    """Accuracy after every step: overall, by difficulty (rounds of singles), and the one-pass comparison;
    one table where the terminal is wide enough, else two that each fit 80 columns."""
    bands = result["by_difficulty"]
    one_pass = next((c for c in result.get("comparisons") or [] if "exact_solve_by_step" in c), None)
    title = f"Held-out 6×6 Sudoku ({result['puzzles']} puzzles, {result['n_parameters']:,} parameters)"
    # header, values per step: a new column is one line here
    overall = [("Exact solve", result["exact_solve"]), ("Blank cells right", result["blank_cell_accuracy"])]
    overall += [("One-pass model, iterated", one_pass["exact_solve_by_step"])] if one_pass else []
    by_band = [(f"{name} ({band['puzzles']})", band["exact_solve"]) for name, band in bands.items()]

    def table(heading: str, columns: list) -> Table:
        t = Table(title=heading, title_justify="left")
        for header in ["Step", *(name for name, _ in columns)]:
            t.add_column(header, justify="right")
        for i, step in enumerate(result["steps"]):
            t.add_row(str(step), *(f"{values[i]:.1%}" if i < len(values) else "" for _, values in columns))
        return t

    for t in first_fitting(console, [[table(title, overall + by_band)],
                                     [table(title, overall),
                                      table("Exact solve by difficulty (rounds of singles; puzzles)", by_band)]]):
        console.print(t)
    for row in result["halting"]:
        console.print(f"stop rule {row['rule']}: mean {row['mean_steps']:.2f} steps, exact solve {row['exact_solve']:.1%}")
    for comparison in result.get("comparisons") or []:
        console.print(f"{comparison['name']}: {comparison['summary']}")


# --- solve ---

def solve_command(args, argv) -> int:
    puzzle = parse_board(args.puzzle)      # PuzzleError: length, characters, contradicting givens
    model, _ = load_sudoku_model(args.checkpoint)
    message_console(quiet=args.quiet).print(describe_source(model.source))
    out = Console(highlight=False)
    exact = solve(puzzle, limit=2)
    if not args.json:
        out.print(render_board(puzzle, puzzle, None, "puzzle"))
    steps = []
    for record in solve_steps(model, puzzle, args):
        steps.append(record)
        if not args.json:
            out.print(render_board(puzzle, record["board"], record["previous"], step_title(record)))
    last = steps[-1]
    rule = "the halting head" if args.stop == "halt" else "an unchanged answer"
    stop = f"{rule} stopped it after step {last['step']}" if last["stops"] else f"no stop within {args.max_steps} steps"
    check = exact_check(puzzle, last["board"], exact)
    if args.json:
        print_json({"checkpoint": model.source, "puzzle": format_board(puzzle),
                    "steps": [{"step": r["step"], "board": format_board(r["board"]), "changed": r["changed"],
                               "halt_probability": r["halt_probability"], "overruled_givens": r["overruled_givens"]}
                              for r in steps],
                    "stop": {"rule": args.stop, "halt_threshold": args.halt_threshold if args.stop == "halt" else None,
                             "max_steps": args.max_steps, "stopped": last["stops"], "after_step": last["step"],
                             "reason": stop},
                    "answer": format_board(last["board"]), "exact_solver": check})
    else:
        out.print(f"{stop}; answer {format_board(last['board'])}")
        out.print(check["verdict"])
    return 0


def solve_steps(model, puzzle: np.ndarray, args):
    """One record per supervision step, until the stop rule (`stops` on the last record) or --max-steps:
    the board (givens kept), the previous one, cells changed, halt probability, givens predicted differently."""
    y, z = initial_state(model.buffers, model.spec, 1)
    previous = puzzle
    for step in range(1, args.max_steps + 1):
        y, z, logits, q, _ = supervision_step(model.ema, model.spec, puzzle[None], y, z)
        predicted = logits[0].argmax(axis=-1) + 1
        board = np.where(puzzle > 0, puzzle, predicted)     # givens stay given on screen
        halt_prob = float(sigmoid(q[0]))
        changed = int((board != previous).sum())
        stops = (halt_prob >= args.halt_threshold) if args.stop == "halt" else (step > 1 and changed == 0)
        yield {"step": step, "board": board, "previous": previous, "changed": changed, "halt_probability": halt_prob,
               "overruled_givens": int(((puzzle > 0) & (predicted != puzzle)).sum()), "stops": stops}
        if stops:
            return
        previous = board


def step_title(record: dict) -> str:
    overruled = record["overruled_givens"]
    return (f"step {record['step']}: {record['changed']} cell(s) changed, halt probability "
            f"{record['halt_probability']:.2f}" + (f" ({overruled} given(s) predicted differently)" if overruled else ""))


def render_board(puzzle: np.ndarray, board: np.ndarray, previous: np.ndarray | None, title: str) -> Text:
    """The 6×6 grid with 2×3 boxes; givens bold cyan, cells that changed this step highlighted."""
    text = Text(title + "\n")
    for r in range(SIZE):
        if r and r % 2 == 0:
            text.append("------+------\n", style="dim")
        for c in range(SIZE):
            cell = r * SIZE + c
            if c == 3:
                text.append(" | ", style="dim")
            elif c:
                text.append(" ")
            digit = int(board[cell])
            style = ("bold cyan" if puzzle[cell] else
                     "bold black on yellow" if previous is not None and digit != previous[cell] else "")
            text.append(str(digit) if digit else ".", style=style)
        text.append("\n")
    return text


def exact_check(puzzle: np.ndarray, board: np.ndarray, solutions: list[np.ndarray]) -> dict:
    """What the exact solver says about the puzzle (`solutions`: none, unique or ambiguous), whether the model's
    answer keeps the rules and the givens, how many cells it has wrong (unique only), and the verdict in words."""
    valid = is_solution(puzzle, board)
    kind = "none" if not solutions else "ambiguous" if len(solutions) > 1 else "unique"
    wrong = int((board != solutions[0]).sum()) if kind == "unique" else None
    if kind == "none":
        text = ("exact solver: this puzzle has NO solution (the givens clash only after deduction); "
                f"the model's answer {'somehow satisfies' if valid else 'breaks'} the rules")
    elif kind == "ambiguous":
        text = ("exact solver: this puzzle is AMBIGUOUS (2 or more solutions, the model was trained on unique ones); "
                f"the model's answer {'is one valid solution' if valid else 'is not a valid solution'}")
    elif wrong == 0:
        text = "exact solver: unique solution, and the model's answer is exactly it"
    else:
        text = f"exact solver: unique solution; the model's answer differs in {wrong} of {CELLS} cells"
    return {"solutions": kind, "answer_is_valid": valid, "cells_wrong": wrong, "verdict": text}

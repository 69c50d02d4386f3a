"""The terminal: progress bars and messages on stderr, the executive summary on stdout.

rich already honours NO_COLOR and TERM=dumb and detects a non-terminal stdout;
progress bars only animate on an interactive stderr, so piped or CI output is
plain text.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

from rich import console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

class Console(console.Console):
    """rich's Console, except that a closed stdout (`| head -1`) raises BrokenPipeError for cli.guarded
    to exit quietly with 141; rich's own handling exits 1, which reads as a failure."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


NAMES = {"trm": "Tiny Recursive Model", "llm": "LLM (simulated)", "greedy": "Greedy baseline",
         "oracle": "Oracle (upper bound)"}


class UI:
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)   # one message, one line
        self.out = Console(highlight=False)
        if not self.out.is_terminal:   # piped or captured: wide enough for the table, no wrapping
            self.out.width = 120

    def message(self, text: str) -> None:
        if not self.quiet:
            self.err.print(text)

    def warn(self, text: str) -> None:
        self.err.print(f"warning: {text}")

    @contextmanager
    def _progress(self, total: int, description: str, field: str):
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn(f"{field} {{task.fields[value]}}"), TimeElapsedColumn(),
                            console=self.err, transient=True,
                            disable=self.quiet or not self.err.is_terminal)
        with progress:
            task = progress.add_task(description, total=total, value="-")
            yield lambda done, value: progress.update(task, completed=done, value=value)

    @contextmanager
    def training_progress(self, epochs: int, description: str):
        with self._progress(epochs, description, "loss") as update:
            def on_epoch(record):
                update(record["epoch"], f"{record['loss']:.4f}")
                if not self.err.is_terminal:
                    self.message(f"{description} epoch {record['epoch']}/{epochs}: loss {record['loss']:.4f}")
            yield on_epoch

    @contextmanager
    def simulation_progress(self, opportunities: int):
        with self._progress(opportunities, "simulating", "TRM rolling ROI") as update:
            yield lambda done, roi: update(done, "-" if roi is None else f"{roi:.2f}")

    @contextmanager
    def seeds_progress(self, seeds: int):
        with self._progress(seeds, "evaluating seeds", "") as update:
            yield lambda done: update(done, "")

    def summary(self, metrics: dict, outputs: dict, as_json: bool = False) -> None:
        if as_json:
            print(json.dumps(metrics, indent=2))
            return
        strategies = metrics["strategies"]
        table = Table(title="Tiny Recursive Model vs baselines", title_justify="left")
        for column in ("Strategy", "Success Rate", "ROI", "Total Value", "Total Cost", "Net Value",
                       "Share of Oracle"):
            table.add_column(column, justify="left" if column == "Strategy" else "right", no_wrap=True)
        for key in ("trm", "llm", "greedy", "oracle"):
            row = strategies[key]
            table.add_row(NAMES[key], _pct(row["success_rate"]), _num(row["roi"]), _money(row["total_value"]),
                          _money(row["total_cost"]), _money(row["net_value"]), _pct(row["share_of_oracle"]))
        self.out.print(table)
        trm = strategies["trm"]
        thermostat, sentinel = metrics["thermostat"], metrics["sentinel"]
        lines = [
            f"Average TRM recursion steps: {_num(metrics['halting']['mean_steps_per_call'])} per candidate scored, "
            f"{_num(trm['avg_steps'])} per decision (its deepest candidate)",
            compute_line(trm["compute_cost"], sentinel["spent"], strategies["llm"]["compute_cost"]),
            f"Thermostat: step cap {thermostat['final']['step_cap']}, halt threshold "
            f"{thermostat['final']['halt_threshold']:.2f} after {thermostat['moves']} moves (target ROI {thermostat['target_roi']:g})",
            f"Sentinel: {len(sentinel['events'])} events, breaker {sentinel['state']}, "
            f"{trm['fallback_decisions']} greedy fallback decisions; TRM-call budget: spent {_money(sentinel['spent'], 4)} "
            f"of {_money(sentinel['budget'], 2)}",
            "ROI = net value / total cost; net value = value - compute - outreach. LLM is simulated.",
        ]
        events = [f"  sentinel at opportunity {e['opportunity']}: {e['guardrail']} "
                  f"(value {_num(e['value'])}, limit {_num(e['limit'])}) -> {e['state']}" for e in sentinel["events"][:5]]
        if len(sentinel["events"]) > 5:
            events.append(f"  ... {len(sentinel['events']) - 5} more sentinel events in the report")
        lines[4:4] = events   # right under the sentinel line
        for line in lines:
            self.out.print(line)
        if "evaluation" in metrics:
            self._evaluation(metrics["evaluation"])
        self.out.print("Wrote: " + ", ".join(str(p) for p in outputs.values()))


    def _evaluation(self, evaluation: dict) -> None:
        table = Table(title=f"Over {evaluation['seeds']} seeds (mean ± 95% CI)", title_justify="left")
        for column in ("Strategy", "Net Value", "Success Rate", "ROI", "Share of Oracle"):
            table.add_column(column, justify="left" if column == "Strategy" else "right", no_wrap=True)
        for key in ("trm", "llm", "greedy", "oracle"):
            row = evaluation["strategies"][key]
            table.add_row(NAMES[key], _interval(row["net_value"], "${:,.0f}"), _interval(row["success_rate"], "{:.1%}"),
                          _interval(row["roi"], "{:.2f}"), _interval(row["share_of_oracle"], "{:.1%}"))
        self.out.print(table)
        for sentence in evaluation["verdicts"]:
            self.out.print(sentence)


def compute_line(strategy_compute: float, trm_calls: float, llm_compute: float) -> str:
    """The TRM strategy's compute includes what greedy cost on the chunks it decided when the sentinel
    said no; the sentinel's budget counts the TRM calls only. Both figures, each labelled."""
    return (f"TRM strategy compute: {_money(strategy_compute, 4)} = {_money(trm_calls, 4)} TRM calls + "
            f"{_money(max(strategy_compute - trm_calls, 0.0), 4)} greedy fallback; simulated LLM {_money(llm_compute, 2)}")


def _interval(stat: dict, fmt: str) -> str:
    if stat["mean"] is None:
        return "n/a"
    text = fmt.format(stat["mean"])
    return text if stat["ci95"] is None else f"{text} ± {fmt.format(stat['ci95']).lstrip('$')}"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _money(x, digits: int = 2) -> str:
    return "n/a" if x is None else f"${x:,.{digits}f}"

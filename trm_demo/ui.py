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


NAMES = {"greedy": "Greedy rule", "logistic": "Logistic", "trm": "TRM", "llm": "LLM alone",
         "cascade": "Cascade", "oracle": "Oracle"}
ORDER = ("cascade", "trm", "llm", "logistic", "greedy", "oracle")


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
        with self._progress(opportunities, "simulating", "") as update:
            yield lambda done: update(done, "")

    @contextmanager
    def seeds_progress(self, seeds: int):
        with self._progress(seeds, "evaluating seeds", "") as update:
            yield lambda done: update(done, "")

    def summary(self, metrics: dict, outputs: dict, as_json: bool = False) -> None:
        if as_json:
            print(json.dumps(metrics, indent=2))
            return
        strategies = metrics["strategies"]
        table = Table(title="Expected net value by strategy (same jobs, same random numbers)", title_justify="left")
        for column in ("Strategy", "Expected", "% oracle", "Realised", "LLM reads", "LLM $"):
            table.add_column(column, justify="left" if column == "Strategy" else "right", no_wrap=True)
        for key in ORDER:
            row = strategies[key]
            table.add_row(NAMES[key], _money(row["expected_net_value"], 0), _pct(row["share_of_oracle_expected"]),
                          _money(row["net_value"], 0), f"{row['llm_reads']:,}", _money(row["llm_cost"], 2))
        self.out.print(table)
        cascade, counterfactuals = strategies["cascade"], metrics["counterfactuals"]
        thermostat, sentinel = metrics["thermostat"], metrics["sentinel"]
        reads_share = cascade["llm_reads"] / max(strategies["llm"]["llm_reads"], 1)
        lines = [
            "Expected = net value from the true probabilities (no outcome luck); Realised = on the drawn outcomes.",
            f"Cascade: read {reads_share:.0%} of the candidates the LLM alone reads; LLM spend "
            f"{_money(sentinel['llm_spent'], 2)} of a {_money(sentinel['llm_budget'], 2)} budget.",
            f"Thermostat (budget pacing): hurdle {thermostat['final_hurdle']:.2f}x price after "
            f"{_count(thermostat['moves'], 'move')}; earned {_money(counterfactuals['thermostat']['expected_net_value_delta'], 0)} "
            "vs a fixed hurdle.",
            f"Sentinel: {_count(len(sentinel['events']), 'breaker event')}, breaker {sentinel['state']}; earned "
            f"{_money(counterfactuals['sentinel']['expected_net_value_delta'], 0)} vs no guardrails.",
            "LLM is simulated: it reads the structured fields and the candidate's reply.",
        ]
        for line in lines:
            self.out.print(line)
        if "evaluation" in metrics:
            self._evaluation(metrics["evaluation"])
        self.out.print("Wrote: " + ", ".join(str(p) for p in outputs.values()))


    def _evaluation(self, evaluation: dict) -> None:
        table = Table(title=f"Over {evaluation['seeds']} seeds: expected net value (mean ± 95% CI)",
                      title_justify="left")
        for column in ("Strategy", "Expected", "% oracle"):
            table.add_column(column, justify="left" if column == "Strategy" else "right", no_wrap=True)
        for key in ORDER:
            row = evaluation["strategies"][key]
            table.add_row(NAMES[key], _interval(row["expected_net_value"], "${:,.0f}"),
                          _interval(row["share_of_oracle_expected"], "{:.1%}"))
        self.out.print(table)
        for sentence in evaluation["verdicts"]:
            self.out.print(sentence)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _interval(stat: dict, fmt: str) -> str:
    if stat["mean"] is None:
        return "n/a"
    text = fmt.format(stat["mean"])
    return text if stat["half_width"] is None else f"{text} ± {fmt.format(stat['half_width']).lstrip('$')}"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _money(x, digits: int = 2) -> str:
    return "n/a" if x is None else f"{'-' if x < 0 else ''}${abs(x):,.{digits}f}"

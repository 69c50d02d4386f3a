"""The terminal: progress bars and messages on stderr, the executive summary on stdout.

rich already honours NO_COLOR and TERM=dumb and detects a non-terminal stdout;
progress bars only animate on an interactive stderr, so piped or CI output is
plain text.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

from rich import box, console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .formats import MISSING, count, money, num, pct, value

class Console(console.Console):
    """rich's Console, except that a closed stdout (`| head -1`) raises BrokenPipeError for cli.guarded
    to exit quietly with 141; rich's own handling exits 1, which reads as a failure."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def output_console() -> Console:
    """stdout: the terminal's own width, or 120 columns when piped or captured (no wrapping)."""
    out = Console(highlight=False)
    if not out.is_terminal:
        out.width = 120
    return out


class UI:
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)   # one message, one line
        self.out = output_console()

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
        """The strategy table in the widest layout that fits; with --quiet nothing else."""
        if as_json:
            print(json.dumps(metrics, indent=2))
            return
        strategies = metrics["strategies"]
        self._print_fitting("Tiny Recursive Model vs baselines", SUMMARY_COLUMNS,
                            {key: strategies[key] for key, _, _ in STRATEGIES})
        if self.quiet:
            return
        trm, thermostat, sentinel = strategies["trm"], metrics["thermostat"], metrics["sentinel"]
        lines = [
            f"TRM recursion steps: {_num(metrics['halting']['mean_steps_per_call'])} per candidate scored, "
            f"{_num(trm['avg_steps'])} per decision (its deepest)",
            compute_line(trm["compute_cost"], sentinel["spent"], strategies["llm"]["compute_cost"]),
            f"Thermostat: step cap {thermostat['final']['step_cap']}, halt threshold "
            f"{thermostat['final']['halt_threshold']:.2f} after {count(thermostat['moves'], 'move')} "
            f"(target ROI {thermostat['target_roi']:g})",
            f"Sentinel: {count(len(sentinel['events']), 'event')}, breaker {sentinel['state']}, "
            f"{count(trm['fallback_decisions'], 'greedy fallback decision')}",
            f"TRM-call budget: spent {money(sentinel['spent'], 4)} of {money(sentinel['budget'], 2)}",
        ]
        lines += [f"  sentinel at opportunity {e['opportunity']}: {e['guardrail']} "
                  f"(value {_num(e['value'])}, limit {_num(e['limit'])}) -> {e['state']}" for e in sentinel["events"][:5]]
        if len(sentinel["events"]) > 5:
            lines.append(f"  ... {count(len(sentinel['events']) - 5, 'more sentinel event')} in the report")
        lines += ["Net value = value - compute - outreach; ROI = net value / total cost.",
                  config_line(metrics.get("changes"))]
        for line in lines:
            self.out.print(line)
        if "evaluation" in metrics:
            self._evaluation(metrics["evaluation"])
        self.out.print("Wrote: " + ", ".join(str(p) for p in outputs.values()))

    def _evaluation(self, evaluation: dict) -> None:
        self._print_fitting(f"Over {evaluation['seeds']} seeds (mean ± 95% CI)", EVALUATION_COLUMNS,
                            evaluation["strategies"])
        for sentence in evaluation["verdicts"]:
            self.out.print(sentence)

    def _print_fitting(self, title: str, columns: tuple, rows: dict) -> None:
        """The first layout that fits the terminal: full names and headers; short ones explained under
        the table; short ones in two tables. Every figure survives in 80 columns (or far narrower)."""
        half = (len(columns) + 1) // 2
        layouts = [[self._table(title if i == 0 else "", group, rows, wide) for i, group in enumerate(groups)]
                   for wide, groups in ((True, (columns,)), (False, (columns,)),
                                        (False, (columns[:half], columns[half:])))]
        tables = first_fitting(self.out, layouts)
        for table in tables:
            self.out.print(table)
        if tables is not layouts[0]:
            self.out.print("; ".join(f"{short} = {long}" for key, long, short in STRATEGIES if long != short)
                           + "; " + "; ".join(f"{c[1]} = {c[0]}" for c in columns if c[0] != c[1]))

    @staticmethod
    def _table(title: str, columns: tuple, rows: dict, wide: bool) -> Table:
        table = Table(title=title or None, title_justify="left", box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD,
                      show_edge=wide, pad_edge=wide)
        table.add_column("Strategy", no_wrap=True)
        for full, short, _, _ in columns:
            table.add_column(full if wide else short, justify="right", no_wrap=True)
        for key, long, short in STRATEGIES:
            if key in rows:
                table.add_row(long if wide else short, *(fmt(rows[key][field]) for _, _, field, fmt in columns))
        return table


def first_fitting(out: console.Console, layouts: list[list[Table]]) -> list[Table]:
    """The first layout (a list of tables, most detailed first) whose every table fits the width; else the last."""
    # measured unconstrained: rich's own measure is capped at the width, where it truncates with "…"
    unconstrained = out.options.update_width(10_000)
    return next((tables for tables in layouts
                 if max(out.measure(t, options=unconstrained).maximum for t in tables) <= out.width), layouts[-1])


def config_line(changes: dict | None) -> str:
    """One line: the config file and the keys that differ from the shipped defaults."""
    if changes is None:
        return "Config: not recorded"
    source = changes["config_file"] or "shipped defaults"
    keys = changes["keys"]
    if not keys:
        return f"Config: {source}; no key differs from the defaults"
    return (f"Config: {source}; {count(len(keys), 'key')} {'differs' if len(keys) == 1 else 'differ'} from the "
            "defaults: " + ", ".join(f"{k['key']} {value(k['value'])} (default {value(k['default'])})" for k in keys))


def compute_line(strategy_compute: float, trm_calls: float, llm_compute: float) -> str:
    """The TRM strategy's compute includes what greedy cost on the chunks it decided when the sentinel
    said no; the sentinel's budget counts the TRM calls only. Both figures, each labelled."""
    return (f"TRM strategy compute: {money(strategy_compute, 4)} = {money(trm_calls, 4)} TRM calls + "
            f"{money(max(strategy_compute - trm_calls, 0.0), 4)} greedy fallback; simulated LLM {money(llm_compute, 2)}")


def _interval(fmt):
    """A mean ± 95 % half-width cell; the half-width without its $ sign, to keep the column narrow."""
    def cell(stat: dict) -> str:
        if stat["mean"] is None:
            return MISSING
        text = fmt(stat["mean"])
        return text if stat["ci95"] is None else f"{text} ± {fmt(stat['ci95']).lstrip('$')}"
    return cell


def _num(x) -> str:
    return num(x, 2)


def _pct(x) -> str:
    return pct(x, 2)


# key, full name, short name (a short name differing from the full one is explained under a narrow table)
STRATEGIES = (("trm", "Tiny Recursive Model", "TRM"), ("llm", "LLM (simulated)", "LLM (sim.)"),
              ("greedy", "Greedy baseline", "Greedy"), ("oracle", "Oracle (upper bound)", "Oracle"))
# full header, short header, metric, format: a new column is one line here
SUMMARY_COLUMNS = (("Success Rate", "Success", "success_rate", _pct), ("ROI", "ROI", "roi", _num),
                   ("Total Value", "Value", "total_value", lambda x: money(x, 2)),
                   ("Total Cost", "Cost", "total_cost", lambda x: money(x, 2)),
                   ("Net Value", "Net", "net_value", lambda x: money(x, 2)),
                   ("Share of Oracle", "Oracle%", "share_of_oracle", _pct))
EVALUATION_COLUMNS = (("Net Value", "Net", "net_value", _interval(lambda x: money(x, 0))),
                      ("Success Rate", "Success", "success_rate", _interval(lambda x: pct(x, 1))),
                      ("ROI", "ROI", "roi", _interval(_num)),
                      ("Share of Oracle", "Oracle%", "share_of_oracle", _interval(lambda x: pct(x, 1))))

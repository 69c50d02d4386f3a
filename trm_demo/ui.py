"""The terminal: progress bars and messages on stderr, the executive summary on stdout.

rich already honours NO_COLOR and TERM=dumb and detects a non-terminal stdout;
progress bars only animate on an interactive stderr, so piped or CI output is
plain text.
"""

from __future__ import annotations

from contextlib import contextmanager

from rich import box, console
from rich.padding import Padding
from rich.table import Table

from trm_demo.report import advice
from trm_demo.report.changes import shown_value
from trm_demo.report.findings import Significance, lead, nearest_cell, read_share
from trm_demo.report.formats import MISSING, Per, count, finite, money, num, pct, plus_minus, price, printable, signed
from trm_demo.results import BreakEvenMap, Changes, Evaluation, Interval, RunResult
from trm_demo.strategies import KEYS, strategy

class Console(console.Console):
    """rich's Console, except that text prints as written (no markup: a path may hold "[/x]"), and a closed
    stdout (`| head -1`) raises BrokenPipeError for cli.guarded to exit quietly with 141; rich's own
    handling exits 1, which reads as a failure."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, markup=False, **kwargs)

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def output_console() -> Console:
    """stdout: the terminal's own width, or 120 columns when piped or captured (no wrapping)."""
    out = Console(highlight=False)
    if not out.is_terminal:
        out.width = 120
    return out


def message_console(quiet: bool = False) -> Console:
    """stderr: progress and messages. On a terminal rich wraps a long message at its spaces (the terminal itself
    cuts at the last column, through a path or a hash); piped or captured, one message per line whatever the width."""
    err = Console(stderr=True, highlight=False, quiet=quiet)
    err.soft_wrap = not err.is_terminal
    return err


class UI:
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.err = message_console()
        self.out = output_console()

    def __reduce__(self):
        """A --seeds worker process gets a UI of its own: consoles hold locks and streams that cannot cross."""
        return UI, (self.quiet,)

    def message(self, text: str) -> None:
        if not self.quiet:
            self.err.print(printable(text, keep="\n"))

    def warn(self, text: str) -> None:
        self.err.print("warning: " + printable(text, keep="\n"))

    @contextmanager
    def _progress(self, total: int, description: str, field: str):
        if self.quiet or not self.err.is_terminal:   # no bar to draw, and rich.progress (~40 ms) stays unloaded
            yield lambda done, value: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn(f"{field} {{task.fields[value]}}"), TimeElapsedColumn(),
                            console=self.err, transient=True)
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
        """on_progress(done): opportunities decided so far (more than planned when traffic rises)."""
        with self._progress(opportunities, "simulating", "opportunity") as update:
            yield lambda done: update(min(done, opportunities), f"{done:,}")

    @contextmanager
    def seeds_progress(self, seeds: int):
        with self._progress(seeds, "evaluating seeds", "") as update:
            yield lambda done: update(done, "")

    def summary(self, result: RunResult, outputs: dict) -> None:
        """The strategy table in the widest layout that fits; with --quiet nothing else."""
        self._print_fitting(f"Expected net value by strategy, $ per run of {result.run.opportunities:,} "
                            "opportunities (TRM -> LLM cascade vs baselines)", SUMMARY_COLUMNS, result.strategies)
        if self.quiet:
            return
        for line in summary_lines(result):   # an indented line (a guard event) keeps its indent when it wraps
            self.out.print(Padding(line[2:], (0, 0, 0, 2)) if line.startswith("  ") else line)
        if result.evaluation is not None:
            self._evaluation(result.evaluation)
        self._break_even(result.landscape.break_even,   # a real run's map still replays the simulated reader
                         f"; read by the {result.landscape.reader} reader" if result.run.llm.get("real") else "")
        self.out.print("Wrote: " + ", ".join(printable(p) for p in outputs.values()))

    def _evaluation(self, evaluation: Evaluation) -> None:
        self._print_fitting(f"Over {evaluation.seeds} seeds, $ per run (mean ± 95% CI half-width)",
                            EVALUATION_COLUMNS, evaluation.strategies)
        if evaluation.counterfactuals:
            self.out.print("Controls over the seeds (run minus replay without it, expected, per run): " + "; ".join(
                f"{control} {plus_minus(stat.mean, stat.half_width, Per.CELL, 2, sign=True)}"
                for control, stat in evaluation.counterfactuals.items()))
        for sentence in evaluation.verdicts:
            self.out.print(sentence)

    def _break_even(self, grid: BreakEvenMap, replayed_by: str = "") -> None:
        """The map's winner at each value per placement (rows) and LLM price (columns), in the widest layout that
        fits (all prices, else two tables of half each), and this run's cell with every strategy's figure."""
        if not grid.cells:
            return
        here = nearest_cell(grid)
        cells = {(c.conversion_value, c.llm_price): c for c in grid.cells}
        half = (len(grid.prices) + 1) // 2
        layouts = [[map_table(grid, cells, here, prices) for prices in groups]
                   for groups in ((grid.prices,), (grid.prices[:half], grid.prices[half:]))]
        sure = (f"mean over {grid.seeds} seeds, ≈ no significant winner" if grid.seeds > 1
                else "one seed: --seeds 5 for intervals")
        self.out.print(f"Break-even map (a steady market, no budget or scenario{replayed_by}): the winner by expected "
                       f"net value at each value ($ per placement, rows) and LLM price ($ per read, columns); ★ this "
                       f"run's value and price, {sure}", style="table.title")
        for table in first_fitting(self.out, layouts):
            self.out.print(table)
        c = cells[here]
        self.out.print(f"At ★ ({money(c.conversion_value, Per.PLACEMENT, 0)}, {price(c.llm_price)}), expected net "
                       "value in $ per opportunity: " + "; ".join(
                           f"{strategy(key).short} {plus_minus(stat.mean, stat.half_width, Per.CELL, 2)}"
                           for key, stat in c.per_opportunity.items()) + "; " + lead_sentence(c))

    def _print_fitting(self, title: str, columns: tuple, rows: dict) -> None:
        """The first layout that fits the terminal: full names and headers; short ones explained under
        the table; short ones in two tables. Every figure survives in 80 columns (or far narrower). The title
        is a line of its own, wrapped at the terminal's width rather than at a narrow table's. rows: strategy
        key -> a record whose fields the columns name, shown in the strategies' order."""
        half = (len(columns) + 1) // 2
        layouts = [[self._table(group, rows, wide) for group in groups]
                   for wide, groups in ((True, (columns,)), (False, (columns,)),
                                        (False, (columns[:half], columns[half:])))]
        tables = first_fitting(self.out, layouts)
        self.out.print(title, style="table.title")
        for table in tables:
            self.out.print(table)
        if tables is not layouts[0]:   # a short name the full one begins with ("Cascade") needs no key
            named = [strategy(key) for key in KEYS if key in rows]
            self.out.print("; ".join([f"{s.short} = {s.name}" for s in named if not s.name.startswith(s.short)]
                                     + [f"{c[1]} = {c[0]}" for c in columns if not c[0].startswith(c[1])]))

    @staticmethod
    def _table(columns: tuple, rows: dict, wide: bool) -> Table:
        table = Table(box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD, show_edge=wide, pad_edge=wide)
        table.add_column("Strategy", no_wrap=True)
        for full, short, _, _ in columns:
            table.add_column(full if wide else short, justify="right", no_wrap=True)
        for key in KEYS:   # a short name differing from the full one is explained under the table
            if key in rows:
                named = strategy(key)
                table.add_row(named.name if wide else named.short,
                              *(fmt(getattr(rows[key], field)) for _, _, field, fmt in columns))
        return table


def map_table(grid: BreakEvenMap, cells: dict, here: tuple, prices: tuple) -> Table:
    """The break-even map's winners at these prices: a short name, ≈ when its lead is not significant, ★ here."""
    table = Table(box=box.SQUARE)
    table.add_column("$/placement", justify="right", no_wrap=True)
    for p in prices:
        table.add_column(price(p, Per.CELL), no_wrap=True)
    for value in grid.values:
        row = []
        for p in prices:
            c = cells[(value, p)]
            unsure = lead(c).significance is Significance.NOT_SIGNIFICANT
            row.append(strategy(c.best).short + (" ≈" if unsure else "") + (" ★" if (value, p) == here else ""))
        table.add_row(money(value, Per.CELL, 0), *row)
    return table


def lead_sentence(c) -> str:
    """The cell's winner against its runner-up, seed by seed: the map's one paired figure."""
    found = lead(c)
    first, second = strategy(found.a).short, strategy(found.b).short
    if found.significance is Significance.ONE_SEED:
        return f"{first} ahead of {second} by {money(found.mean, Per.OPPORTUNITY, 2)} (one seed)"
    return (f"{first} − {second} {plus_minus(found.mean, found.half_width, Per.OPPORTUNITY, 2, sign=True)} paired "
            f"over {found.seeds} seeds" + ("" if found.significance is Significance.AHEAD else " (not significant)"))


def first_fitting(out: console.Console, layouts: list[list[Table]]) -> list[Table]:
    """The first layout (a list of tables, most detailed first) whose every table fits the width; else the last."""
    # measured unconstrained: rich's own measure is capped at the width, where it truncates with "…"
    unconstrained = out.options.update_width(10_000)
    return next((tables for tables in layouts
                 if max(out.measure(t, options=unconstrained).maximum for t in tables) <= out.width), layouts[-1])


def config_line(changes: Changes | None) -> str:
    """One line: the config file and the keys that differ from the shipped defaults."""
    if changes is None:
        return "Config: not recorded"
    source = printable(changes.config_file or "shipped defaults")
    keys = changes.keys
    if not keys:
        return f"Config: {source}; no key differs from the defaults"
    return (f"Config: {source}; {count(len(keys), 'key')} {'differs' if len(keys) == 1 else 'differ'} from the "
            "defaults: " + ", ".join(printable(f"{k.key} {shown_value(k.value)} (default: {shown_value(k.default)})")
                                      for k in keys))


def summary_lines(result: RunResult) -> list[str]:
    """The lines under the table: the advice first, then the yardstick, the cascade's reads and spend, each control's
    dollars, the LLM. Plain words: the terms are defined in `--help` (GLOSSARY)."""
    cascade, thermostat, sentinel = result.strategies["cascade"], result.thermostat, result.sentinel
    read_here = read_share(result)
    read = f" ({pct(read_here)} of candidates)" if finite(read_here) else ""
    lines = [
        "Advice: " + advice.sentence(result),
        "Expected = at the true conversion probabilities (no outcome luck); Realised = on the drawn outcomes.",
        f"Cascade: the LLM read {cascade.llm_reads:,} replies{read}; LLM spend per run: {money(sentinel.llm_spent, Per.CELL)} "
        f"of a {money(sentinel.llm_budget, Per.CELL)} budget "
        f"({money(sentinel.llm_budget / max(result.run.planned_opportunities, 1), Per.OPPORTUNITY, 2)} of budget).",
        f"Spend pacing: escalation threshold ended at {num(thermostat.final_hurdle)} x the LLM price after "
        f"{count(thermostat.moves, 'move')}" + _versus(result, "thermostat", "the best fixed threshold"),
        f"LLM outage guard: {count(len(sentinel.events), 'event')}, {GUARD_STATES.get(sentinel.state, sentinel.state)} "
        "at the end" + _versus(result, "sentinel", "no outage guard or TRM fallback"),
    ]
    events = sentinel.events
    lines += [f"  opportunity {e['opportunity']:,}: {GUARD_STATES.get(e.get('from'), e.get('from', '?'))} -> "
              f"{GUARD_STATES.get(e['state'], e['state'])} ({printable(e.get('reason', ''))})" for e in events[:5]]
    if len(events) > 5:
        lines.append(f"  ... {count(len(events) - 5, 'more guard event')} in the report")
    lines += [label + ":" + _versus(result, control, without)[1:] for control, label, without in
              (("budget", "LLM budget", "no budget"), ("latency_limit", "Latency limit", "no latency limit"))
              if control in result.counterfactuals]
    lines += [llm_line(result.run.llm), config_line(result.changes)]
    return lines


# The guard's states in words (the JSON keeps the circuit breaker's own names).
GUARD_STATES = {"closed": "LLM in use", "open": "LLM switched off (TRM decides)",
                "half_open": "trying the LLM again"}


def _versus(result: RunResult, control: str, without: str) -> str:
    """'; against <without>: +$1.47 per opportunity (+$88.05 per run) of expected net value on this seed (...)'."""
    effect = advice.control_effect(result, control)
    return f"; against {without}: {effect}" if effect else ""


def llm_failure(llm: dict) -> str:
    """'' for a reader that answered; else what failed, and that the LLM's verdicts are not valid."""
    if not advice.llm_failed(llm):
        return ""
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in llm.get("stats", {}).get("failures", {}).items())
    return (f"the LLM failed {llm.get('failed_reads', 0):,} of {llm.get('candidates_read', 0):,} reads ({reasons}): "
            "every verdict involving the LLM (the cascade, the LLM alone) is not valid in this run; check the "
            "server at llm.base_url and rerun")


def llm_warnings(llm: dict) -> list[str]:
    """A real reader's warnings for stderr: its failures, its time budget running out, a reading worse than the TRM's."""
    if not llm.get("real"):
        return []
    judged = llm.get("discrimination", {})
    worse = (f"the LLM reads worse than the TRM alone: rank correlation with the true probability "
             f"{num(judged['reader']['rank_correlation_with_truth'])} against the TRM's "
             f"{num(judged['trm']['rank_correlation_with_truth'])} (a simulation-only check)"
             if judged.get("worse_than_trm") else "")
    budget = (f"the LLM time budget (llm.time_budget_s: {num(llm.get('time_budget_s'))} s) ran out: "
              f"{llm['over_budget_reads']:,} reads were not made and the TRM decided them"
              if llm.get("over_budget_reads") else "")
    return [w for w in (llm_failure(llm), budget, worse) if w]


def _rho(scores: dict) -> str:
    rho = scores.get("rank_correlation_with_truth")
    return f"{rho:+.2f}" if isinstance(rho, float) else "none (all readings alike)"


def llm_line(llm: dict) -> str:
    if llm.get("real"):
        failed = f"; FAILED {llm.get('failed_reads', 0):,} of {llm.get('candidates_read', 0):,} reads" \
            if advice.llm_failed(llm) else ""
        judged = llm.get("discrimination", {})
        ranks = (f"; rank correlation with the true probability {_rho(judged['reader'])} (the TRM's "
                 f"{_rho(judged['trm'])}, a simulation-only check)" if "reader" in judged else "")
        scenario = ("applied to it as a what-if (llm.scenario_events)" if llm.get("scenario_llm_events")
                    else "not applied to it")
        return (f"LLM: real ({printable(llm.get('provider'))}, model {printable(llm.get('model'))}){failed}{ranks}; "
                f"the scenario's LLM price and outage events are {scenario}")
    return "LLM: simulated (reads the reply's text, misreading some phrasings at documented rates, plus noise)"


def _interval(fmt):
    """A mean ± 95 % half-width cell; the half-width without its $ sign, to keep the column narrow."""
    def cell(stat: Interval) -> str:
        if stat.mean is None:
            return MISSING
        text = fmt(stat.mean)
        return text if stat.half_width is None else f"{text} ± {fmt(stat.half_width).lstrip('$+')}"
    return cell


def _pct(x) -> str:
    return pct(x, 1)


def _money(x) -> str:
    return money(x, Per.CELL, 2)


# full header, short header, metric, format: a new column is one line here
SUMMARY_COLUMNS = (("Expected Net", "Expected", "expected_net_value", _money),
                   ("% of Oracle (exp.)", "Oracle%", "share_of_oracle_expected", _pct),
                   ("Realised Net", "Realised", "net_value", _money),
                   ("LLM Reads", "Reads", "llm_reads", lambda x: f"{x:,}" if isinstance(x, int) else num(x, 0)),
                   ("LLM Cost", "LLM $", "llm_cost", _money))
EVALUATION_COLUMNS = (("Expected Net", "Expected", "expected_net_value",
                       _interval(lambda x: money(x, Per.CELL, 0))),
                      ("% of Oracle (exp.)", "Oracle%", "share_of_oracle_expected", _interval(lambda x: pct(x, 1))),
                      ("LLM Reads", "Reads", "llm_reads", _interval(lambda x: num(x, 0))))

"""Every money figure the terminal and the dossier show says what it counts: per run, per opportunity, per read or
per placement (formats.Per). Read off the rendered text of a real run with --seeds, so a figure added without its
unit fails here, wherever it is added.

The rule a reader can check by eye: a figure is labelled when its unit follows it ("$90.00 per run",
"$741 ± $88 per run", "[-$47, +$173] per run"), or when its sentence declares the unit before it ("LLM spend per
run: $89.80 of a $90.00 budget", "in $ per opportunity: ..."); a table cell is labelled when its column header or
the table's first header cell (Markdown; it may name the units of the column headers too) or its title
(terminal) names the unit.
"""

from __future__ import annotations

import json
import re

import pytest

from trm_demo import cli
from trm_demo.__main__ import main, parse_args
from trm_demo.config import load_config
from trm_demo.report.dossier import render_report
from trm_demo.report.formats import Per, money, plus_minus
from trm_demo.results import RunResult
from trm_demo.ui import UI

FIGURE = r"[+\-−]?\$\d[\d,]*(?:\.\d+)?"
UNIT = r" per (?:run|opportunity|read|placement|candidate)\b"
# A figure with its unit after it: alone, with a half-width, or as an interval.
LABELLED = re.compile(rf"(?:{FIGURE}(?: ± {FIGURE})?|\[{FIGURE}, {FIGURE}\]){UNIT}")
# A unit declared before the figures of a sentence: "per run: ...", "in $ per opportunity: ...".
DECLARED = re.compile(r"(?:\$ per|per) (?:run|opportunity|read|placement)\b[^.]*?:")
BOX = re.compile(r"[│┃┏┗┡└┌╇─━]")


def unlabelled_in_prose(text: str) -> list[str]:
    """The sentences of `text` holding a money figure that is neither followed by its unit nor declared before it."""
    bad = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        rest = LABELLED.sub("", sentence)
        declared = DECLARED.search(rest)
        rest = rest if declared is None else rest[:declared.start()]
        if re.search(FIGURE, rest):
            bad.append(sentence)
    return bad


def unlabelled_in_markdown(markdown: str) -> list[str]:
    bad = []
    for block in re.sub(r"```.*?```", "", markdown, flags=re.DOTALL).split("\n\n"):
        lines = block.strip().splitlines()
        if lines and lines[0].startswith("|"):
            rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines if "---" not in line]
            header, body = rows[0], rows[1:]
            for row in [header, *body]:
                for column, cell in enumerate(row):
                    named = re.search(UNIT, header[0] if row is header else header[column] + " " + header[0])
                    if not named and re.search(FIGURE, LABELLED.sub("", cell)):
                        bad.append(f"{header[column]!r}: {cell!r}")
        else:
            bad += [s for line in lines for s in unlabelled_in_prose(line)]
    return bad


def unlabelled_in_terminal(output: str) -> list[str]:
    bad, title = [], ""
    for line in output.splitlines():
        if BOX.search(line) or line.startswith(" "):   # a table's border, header or row (or an indented event)
            if re.search(FIGURE, line) and not re.search(UNIT, title) and not line.startswith("  opportunity"):
                bad.append(f"{title!r}: {line!r}")
            continue
        title = line
        bad += unlabelled_in_prose(line)
    return bad


def test_the_checker_finds_a_figure_without_its_unit():
    assert unlabelled_in_prose("The cascade spent $89.80 of a $90.00 budget.") == [
        "The cascade spent $89.80 of a $90.00 budget."]
    assert unlabelled_in_prose(f"It spent {money(89.8, Per.RUN)}; the LLM per run: $1.00 and $2.00.") == []
    assert unlabelled_in_prose(f"A lead of {plus_minus(741, 88, Per.RUN, 0)} over 5 seeds.") == []
    assert unlabelled_in_markdown("| Strategy | Expected |\n| --- | ---: |\n| TRM | $5.00 |") == ["'Expected': '$5.00'"]
    assert unlabelled_in_markdown("| Strategy | Expected ($ per run) |\n| --- | ---: |\n| TRM | $5.00 |") == []


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small real run over two seeds (the map over seeds, the evaluation's tables) and its outputs."""
    out = tmp_path_factory.mktemp("units")
    argv = ["--from-scratch", "--train-epochs", "1", "--opportunities", "60", "--seeds", "2", "--quiet",
            "--export-json", str(out / "metrics.json"), "--export-training-log", str(out / "training.json"),
            "--export-report", str(out / "report.md"), "--telemetry", str(out / "calls.json")]
    assert main(argv) == 0
    cfg = load_config(None, cli.overrides(parse_args(argv)))
    return {"cfg": cfg, "report": (out / "report.md").read_text(),
            "metrics": json.loads((out / "metrics.json").read_text()),
            "training": json.loads((out / "training.json").read_text())}


def test_every_money_figure_in_the_dossier_has_its_unit(run):
    assert "$" in run["report"]
    assert unlabelled_in_markdown(run["report"]) == []
    # a run of one seed words the map and the advice differently
    one_seed = {**run["metrics"]}
    one_seed.pop("evaluation")
    text = render_report(run["cfg"].to_dict(), RunResult.from_dict(one_seed), run["training"])
    assert unlabelled_in_markdown(text) == []


def test_every_money_figure_in_the_terminal_has_its_unit(run, capsys):
    ui = UI()
    ui.out.width = 1000   # one line per print: a sentence is never wrapped across lines
    capsys.readouterr()
    ui.summary(RunResult.from_dict(run["metrics"]), {"report": "report.md"})
    output = capsys.readouterr().out
    assert "Break-even map" in output and "$" in output
    assert unlabelled_in_terminal(output) == []

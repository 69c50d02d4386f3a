"""The one-file HTML dossier: same content as the Markdown, self-contained, and drawn by a real browser.

The browser test runs the system Chromium headless (`apt-get install chromium`); it is skipped
locally without one, but fails in CI, like the Mermaid parser checks (mermaid_check.py).
"""
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from trm_demo import cli
from trm_demo.__main__ import main, parse_args
from trm_demo.report.charts import chart
from trm_demo.config import load_config
from trm_demo.report.document import Chart, Document, Paragraph, section
from trm_demo.report.html import CSP, to_html
from trm_demo.report.dossier import report_document
from trm_demo.report.screenshots import chromium, headless
from trm_demo.results import RunResult

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mermaid_check import running_in_ci  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = out / "my.yaml"
    config.write_text("simulation:\n  llm_cost: 0.05\nscenario:\n  events: []\n")
    argv = ["--config", str(config), "--from-scratch", "--train-epochs", "1", "--opportunities", "60", "--quiet",
            "--export-json", str(out / "metrics.json"), "--export-training-log", str(out / "training.json"),
            "--export-report", str(out / "report.md"), "--telemetry", str(out / "calls.json")]
    assert main(argv) == 0
    return {"dir": out, "html": out / "report.html", "markdown": (out / "report.md").read_text(encoding="utf-8"),
            "cfg": load_config(str(config), cli.overrides(parse_args(argv)))}


class Marks(HTMLParser):
    """Per <svg class="chart">: how many bars, lines and points with a visible size it draws (not the legend)."""
    def __init__(self):
        super().__init__()
        self.charts, self.inside, self.legend = [], False, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and a.get("class") == "chart":
            self.inside = True
            self.charts.append(0)
        elif tag == "g" and a.get("class") == "legend":
            self.legend = True
        elif not self.inside or self.legend:
            return
        elif tag == "circle" and float(a.get("r", 0)) > 0:
            self.charts[-1] += 1
        elif self.inside and tag == "rect" and float(a.get("width", 0)) > 0 and float(a.get("height", 0)) > 0:
            self.charts[-1] += 1
        elif self.inside and tag == "path" and len(re.findall(r"[ML]", a.get("d", ""))) >= 2:
            self.charts[-1] += 1

    def handle_endtag(self, tag):
        if tag == "svg":
            self.inside = False
        elif tag == "g":
            self.legend = False


def drawn_marks(html: str) -> list[int]:
    parser = Marks()
    parser.feed(html)
    return parser.charts


def charts_in(doc: Document) -> list[Chart]:
    return [b for s in doc.sections for b in s.blocks if isinstance(b, Chart) and not b.empty]


# --- without a browser ---

def test_the_dossier_is_written_next_to_the_markdown_and_needs_nothing_else(run):
    html = run["html"].read_text(encoding="utf-8")
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<script" not in html.lower() and not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "overflow-x: auto" in html and "@media print" in html


def test_the_dossier_has_the_markdowns_sections_and_numbers(run):
    html, markdown = run["html"].read_text(encoding="utf-8"), run["markdown"]
    headings = re.findall(r"^## (.+)$", markdown, re.MULTILINE)
    assert re.findall(r"<h2>(.+?)</h2>", html) == [h.replace("&", "&amp;") for h in headings]
    for money in set(re.findall(r"\$[\d,]+\.\d{2}", markdown)):
        assert money in html
    result = RunResult.from_dict(json.loads((run["dir"] / "metrics.json").read_text()))
    doc = report_document(run["cfg"].to_dict(), result, json.loads((run["dir"] / "training.json").read_text()))
    assert len(drawn_marks(html)) == len(charts_in(doc)) == markdown.count("\nxychart-beta\n")
    assert html.count("★") == markdown.count("★") == 2   # the break-even map's default cell and its note
    assert "<strong>Cascade</strong> ★" in html or "<strong>TRM alone</strong> ★" in html \
        or "<strong>LLM alone</strong> ★" in html


def test_what_you_changed_names_the_file_the_key_and_its_measured_effect(run):
    markdown = run["markdown"]
    assert f"Config file: `{run['dir'] / 'my.yaml'}`" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| `simulation.llm_cost`"))
    assert "| `0.2` | `0.05` |" in row and "LLM reads: cascade" in row
    row = next(line for line in markdown.splitlines() if line.startswith("| `scenario.events`"))
    assert "| `[{at: 80, llm_price_multiplier: 2.5}, {at: 130, llm_outage: 25}]` | `[]` |" in row
    assert "No scenario events: a steady market." in markdown
    assert "`training.epochs` | `2` | `1` | `--train-epochs`" in markdown


def test_inline_marks_are_escaped_and_only_bold_and_code_are_read():
    doc = Document("a < b", (Paragraph("**x** `<y>` & *z*"),),
                   (section("S", chart("T", "x (#)", "y (#)", ["a"], [("bar", "n", [1.0])], 10)),))
    html = to_html(doc)
    assert "<strong>x</strong> <code>&lt;y&gt;</code> &amp; *z*" in html and "<title>a &lt; b</title>" in html
    assert drawn_marks(html) == [1]


# --- in a real browser ---

def require_browser() -> str:
    browser = chromium()
    if browser:
        return browser
    if running_in_ci():
        pytest.fail("CI is set but no Chromium is installed (.ci/run installs it with apt-get)")
    pytest.skip("no Chromium on PATH (apt-get install chromium)")


def load(browser: str, page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after load, and every console or network error line Chromium logged while loading."""
    result = headless(browser, profile, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    # A blocked or failed load is logged as a console message (CSP violation) or a net:: error.
    return result.stdout, [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "net::ERR" in line]


def test_the_dossier_loads_in_chromium_with_no_failed_request_and_every_chart_drawn(run, tmp_path):
    browser = require_browser()
    dom, errors = load(browser, run["html"], tmp_path / "profile")
    assert errors == []
    marks = drawn_marks(dom)
    assert len(marks) == run["markdown"].count("\nxychart-beta\n") and all(marks), marks
    # The check itself works: a page that tries a remote and a local load is caught.
    bad = tmp_path / "bad.html"
    bad.write_text(run["html"].read_text(encoding="utf-8").replace(
        "</body>", '<img src="http://example.invalid/x.png"><img src="missing.png"></body>'), encoding="utf-8")
    assert len(load(browser, bad, tmp_path / "profile")[1]) == 2

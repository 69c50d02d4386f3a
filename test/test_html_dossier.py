"""The one-file HTML dossier: same content as the Markdown, self-contained, and drawn by a real browser.

The browser test runs the system Chromium headless (`apt-get install chromium`); it is skipped
locally without one, but fails in CI, like the Mermaid parser checks (mermaid_check.py).
"""
import json
import re
import shutil
import sys
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from trm_demo import cli
from trm_demo.__main__ import main, parse_args
from trm_demo.report.charts import chart, mermaid, mermaid_width
from trm_demo.config import load_config
from trm_demo.report.document import Chart, Document, Paragraph, Table, section
from trm_demo.report.html import CSP, to_html
from trm_demo.report.dossier import report_document
from trm_demo.report.screenshots import chromium, headless
from trm_demo.results import RunResult

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mermaid_check import running_in_ci  # noqa: E402
from served import Served  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = out / "my.yaml"
    config.write_text("simulation:\n  llm_cost: 0.05\nscenario:\n  events: []\n")
    argv = ["--config", str(config), "--from-scratch", "--train-epochs", "2", "--opportunities", "60", "--quiet",
            "--export-json", str(out / "metrics.json"), "--export-training-log", str(out / "training.json"),
            "--export-report", str(out / "report.md"), "--telemetry", str(out / "calls.json")]
    assert main(argv) == 0
    return {"dir": out, "html": out / "report.html", "markdown": (out / "report.md").read_text(encoding="utf-8"),
            "cfg": load_config(str(config), cli.overrides(parse_args(argv)))}


class Marks(HTMLParser):
    """Per <svg class="chart LAYOUT">: how many bars, lines and points with a visible size it draws (not the
    legend)."""
    def __init__(self, layout: str):
        super().__init__()
        self.layout, self.charts, self.inside, self.legend = layout, [], False, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and a.get("class") == f"chart {self.layout}":
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


def drawn_marks(html: str, layout: str = "wide") -> list[int]:
    parser = Marks(layout)
    parser.feed(html)
    return parser.charts


def xycharts(markdown: str) -> int:
    return len(re.findall(r"\nxychart-beta( horizontal)?\n", markdown))


def charts_in(doc: Document) -> list[Chart]:
    return [b for b in (*doc.lead, *(b for s in doc.sections for b in s.blocks)) if isinstance(b, Chart) and not b.empty]


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
    assert len(drawn_marks(html)) == len(charts_in(doc)) == xycharts(markdown)
    assert drawn_marks(html, "narrow") == drawn_marks(html)   # the phone's drawing of each chart has every mark
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
    assert "`training.epochs` | `1` | `2` | `--train-epochs`" in markdown


def test_inline_marks_are_escaped_and_only_bold_and_code_are_read():
    doc = Document("a < b", (Paragraph("**x** `<y>` & *z*"),),
                   (section("S", chart("T", "x (#)", "y (#)", ["a"], [("bar", "n", [1.0])], 10)),))
    html = to_html(doc)
    assert "<strong>x</strong> <code>&lt;y&gt;</code> &amp; *z*" in html and "<title>a &lt; b</title>" in html
    assert drawn_marks(html) == drawn_marks(html, "narrow") == [1]


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
    assert len(marks) == xycharts(run["markdown"]) and all(marks), marks
    # The check itself works: a page that tries a remote and a local load is caught.
    bad = tmp_path / "bad.html"
    bad.write_text(run["html"].read_text(encoding="utf-8").replace(
        "</body>", '<img src="http://example.invalid/x.png"><img src="missing.png"></body>'), encoding="utf-8")
    assert len(load(browser, bad, tmp_path / "profile")[1]) == 2


# --- measured in a real browser at a phone's and a desktop's size (test/browser/measure.mjs) ---

MEASURE = Path(__file__).resolve().parent / "browser" / "measure.mjs"
PUPPETEER = Path(__file__).resolve().parents[1] / "node_modules" / "puppeteer" / "package.json"


def measure(page: Path, width: int, height: int) -> dict:
    """What measure.mjs finds on `page` in Chromium at width x height CSS px."""
    browser = require_browser()
    if shutil.which("node") is None or not PUPPETEER.is_file():
        if running_in_ci():
            pytest.fail("CI is set but node or node_modules/puppeteer (npm ci) is missing")
        pytest.skip("the browser measurements need node and `npm ci` (puppeteer, package.json)")
    if browser not in BROWSERS:   # one Chromium measures every page of the session (a launch is ~2 s of CPU)
        BROWSERS[browser] = Served("node", str(MEASURE), browser)
    found = BROWSERS[browser].ask([str(page), width, height], timeout=180)
    assert "error" not in found, found.get("error", "")[-2000:]
    return found


BROWSERS: dict[str, Served] = {}


def test_on_a_390_px_phone_every_chart_label_is_11_px_or_more_and_a_table_that_overflows_says_so(run, tmp_path):
    found = measure(run["html"], 390, 844)
    charts = found["charts"]
    assert len(charts) == xycharts(run["markdown"])
    for c in charts:   # the phone's drawing, its labels legible, inside the chart and apart
        assert c["layout"] == "chart narrow" and c["smallest"] >= 11 and c["clipped"] == c["overlaps"] == 0, c
    assert found["pageWidth"] <= 390   # the page itself never scrolls sideways: only a table does
    assert any(t["scrollWidth"] > t["clientWidth"] for t in found["tables"])
    for t in found["tables"]:   # a cue under exactly the tables that run past the screen, as legible as the text
        assert (t["cue"] is not None) == (t["scrollWidth"] > t["clientWidth"]), t
        assert t["cue"] is None or (f"{t['columns']} columns" in t["cue"] and t["cueFont"] >= 11), t
    # The measurement itself works: the desktop drawing shrunk into a phone is caught at under 11 px.
    shrunk = tmp_path / "shrunk.html"
    shrunk.write_text(run["html"].read_text(encoding="utf-8").replace("svg.wide { display: none; }", ""),
                      encoding="utf-8")
    wide = [c for c in measure(shrunk, 390, 844)["charts"] if c["layout"] == "chart wide"]
    assert len(wide) == len(charts) and all(c["smallest"] < 11 for c in wide)


def test_the_scroll_cue_follows_the_tables_width_not_its_column_count(tmp_path):
    narrow = Table(("Strategy", "Reads"), (("Cascade", "154"), ("TRM alone", "0")), numeric=(1,))
    wide = Table(("a", "b", "c"), (("$10,693.51", "$10,309.92", "$10,059.95"),) * 2, numeric=(0, 1, 2))
    words = Table(tuple(f"h{i}" for i in range(3)), (("unbreakable" * 3, "x", "y"),))
    page = tmp_path / "tables.html"
    page.write_text(to_html(Document("Tables", (narrow, wide, words))), encoding="utf-8")
    tables = measure(page, 390, 844)["tables"]
    assert [t["cue"] is not None for t in tables] == [t["scrollWidth"] > t["clientWidth"] for t in tables] \
        == [False, False, True]


def test_at_1280_by_800_the_first_screen_holds_the_advice_the_summary_card_and_the_whole_strategy_chart(run):
    found = measure(run["html"], 1280, 800)
    first = found["charts"][0]
    assert first["layout"] == "chart wide" and first["bottom"] <= 800, first
    assert first["title"].split(" made the most expected net value")[0] in ("Cascade", "TRM alone", "Keywords",
                                                                           "LLM top k", "Top-k router", "LLM alone",
                                                                           "Logistic", "Greedy")
    assert all(c["smallest"] >= 11 and c["clipped"] == c["overlaps"] == 0 for c in found["charts"])
    html = run["html"].read_text(encoding="utf-8")
    assert html.index('<div class="card">') < html.index('<svg class="chart wide"') < html.index("<h2>")


def test_the_summary_cards_figures_are_the_advices_and_the_metrics(run):
    from trm_demo.report import advice
    from trm_demo.report.dossier import summary_card
    from trm_demo.report.formats import Per, money, signed
    result = RunResult.from_dict(json.loads((run["dir"] / "metrics.json").read_text()))
    r, s = advice.recommendation(result), result.strategies
    card = {label.split(" over ")[0]: (value, note) for label, value, note in summary_card(result).items}
    assert card["Gain"] == (signed(r.per_opportunity, Per.OPPORTUNITY, 2), f"{signed(r.per_run, Per.RUN, 2)}, expected")
    assert card["LLM reads"][0] == f"{s[r.best].llm_reads:,}" and card["LLM spend"][0] == money(s[r.best].llm_cost, Per.RUN)
    assert card["Certainty"] == ("One seed", advice.SEEDS_HINT)
    assert money(abs(r.per_run), Per.RUN, 2).lstrip("$") in advice.sentence(result)   # the sentence says the same


MERMAID_JS = Path(__file__).resolve().parents[1] / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"


def mermaid_page(path: Path, markdown: str) -> Path:
    """A page drawing every ```mermaid block of `markdown` with the pinned mermaid.js, as a Markdown viewer does."""
    blocks = re.findall(r"```mermaid\n(.*?)\n```", markdown, re.DOTALL)
    path.write_text(f'<!doctype html><html><body><script src="{MERMAID_JS.as_uri()}"></script>'
                    + "".join(f'<pre class="mermaid">{escape(b)}</pre>' for b in blocks)
                    + "<script>mermaid.initialize({startOnLoad: true});</script></body></html>", encoding="utf-8")
    return path


def test_the_markdowns_charts_drawn_by_mermaid_clip_no_title_or_label(run, tmp_path):
    """Mermaid lays a chart out at a fixed width and clips a title wider than it at both ends: the Markdown widens
    the chart for a long title (charts.mermaid_width) so every label is drawn whole."""
    longest = chart("W" * 10 + " x" * 35, "x (#)", "y (#)", [1, 2], [("line", "a line", [1.0, 2.0])], 10)
    markdown = run["markdown"] + "\n" + mermaid(longest) + "\n"
    charts = measure(mermaid_page(tmp_path / "mermaid.html", markdown), 1000, 800)["charts"]
    assert len(charts) == xycharts(markdown) and all(c["labels"] >= 3 for c in charts)
    assert [c for c in charts if c["clipped"]] == []
    # The measurement itself works: at Mermaid's own width the long title is clipped.
    fixed = mermaid(longest).replace(f'"width": {mermaid_width(longest.title)}', '"width": 700')
    assert measure(mermaid_page(tmp_path / "fixed.html", fixed), 1000, 800)["charts"][0]["clipped"] > 0

"""Pictures of the reports as a reader sees them: `python -m trm_demo.report.screenshots` writes docs/img/*.png.

Runs the default demo and `puzzle eval` in a scratch directory, then renders every Mermaid
block of both Markdown reports with mermaid-cli (`npm ci` installs it; it drives the system
Chromium, `apt-get install chromium`, through a puppeteer config, as puppeteer may not
download a browser here) and screenshots the executive HTML dossier with headless Chromium
at a desktop and a phone width. Nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "img"
MMDC = REPO / "node_modules" / ".bin" / "mmdc"
# Chromium flags for a quiet, offline, throwaway browser (no sandbox: CI runs as root).
HEADLESS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")
# name -> (width, height) of the HTML dossier's screenshots
VIEWS = {"dossier-desktop": (1280, 800), "dossier-phone": (390, 1600)}   # a desktop's first screen; a phone's first two


def chromium() -> str | None:
    """The system Chromium (Debian's `chromium`), or None."""
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def headless(browser: str, profile: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([browser, *HEADLESS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def make_reports(scratch: Path) -> dict[str, Path]:
    """The README's default run (no flags, so the pictures show what a user's first run shows) and `puzzle eval`,
    written inside `scratch`."""
    main = [sys.executable, str(REPO / "main.py")]
    (scratch / "assets").mkdir()
    subprocess.run(main, cwd=scratch, check=True, capture_output=True)
    subprocess.run([*main, "puzzle", "eval", "--export-json", "e.json", "--report", "reasoning.md"], cwd=scratch,
                   check=True, capture_output=True)
    report = scratch / "assets" / "trm_executive_report.md"
    return {"report": report, "reasoning": scratch / "reasoning.md", "html": report.with_suffix(".html")}


def mermaid_pngs(browser: str, markdown: Path, prefix: str, scratch: Path) -> list[Path]:
    """Every ```mermaid block of `markdown` as docs/img/PREFIX-N.png (mermaid-cli names them -1, -2, ...)."""
    config = scratch / "puppeteer.json"
    config.write_text(json.dumps({"executablePath": browser, "args": ["--no-sandbox"]}))
    rendered = scratch / f"{prefix}.md"
    subprocess.run([str(MMDC), "--quiet", "-p", str(config), "-i", str(markdown), "-o", str(rendered), "-e", "png",
                    "-b", "white", "-w", "900"], check=True)
    pngs = sorted(scratch.glob(f"{prefix}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [Path(shutil.copy(png, OUT / png.name)) for png in pngs]


def html_pngs(browser: str, html: Path, scratch: Path) -> list[Path]:
    written = []
    for name, (width, height) in VIEWS.items():
        target = OUT / f"{name}.png"
        result = headless(browser, scratch / "profile", f"--window-size={width},{height}",
                          f"--screenshot={target}", html.as_uri())
        if result.returncode != 0 or not target.is_file():
            raise SystemExit(f"chromium could not screenshot {html}: {result.stderr[-500:]}")
        written.append(target)
    return written


def main() -> int:
    browser = chromium()
    if browser is None or not MMDC.exists():
        print("needs the system Chromium (apt-get install chromium) and mermaid-cli (npm ci)", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):   # a report with fewer charts must not leave stale pictures behind
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        reports = make_reports(scratch)
        written = (mermaid_pngs(browser, reports["report"], "report-chart", scratch)
                   + mermaid_pngs(browser, reports["reasoning"], "reasoning-chart", scratch)
                   + html_pngs(browser, reports["html"], scratch))
    for path in written:
        print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())

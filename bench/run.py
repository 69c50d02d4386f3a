"""The benchmark command: python -m bench [--quick] [--only SECTIONS] (or python bench/run.py).

Sections, in order: engine (with PyTorch), ablation, fine-tuning (epochs and learning rate), simulation, end-to-end,
the market over seeds, the reader sweep, the controls
against their best fixed policies, and the times the README states (readme: the default run, puzzle eval, the
test suite). Prints the page,
writes bench/results.json and regenerates docs/BENCHMARKS.md; `--only` re-measures some sections and keeps the
others' last figures (each section records the command, date, CPU and load that measured it); `--render`
rewrites the page from bench/results.json without measuring. A --quick smoke run writes
bench/results-quick.json only, so that smoke figures never replace the page. A section that fails is recorded
with its error and the command exits 1 after writing what it has.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:          # `python bench/run.py` from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from bench import report  # noqa: E402
from bench.measure import machine  # noqa: E402

SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
# name -> (default, --quick)
PROFILES = {"repeats": (5, 3),                 # timing repeats per figure (median reported)
            "torch_rounds": (2, 1),            # alternating numpy/torch process rounds
            "ablation_seeds": ([1, 2, 3], [1]), "ablation_samples": (50_000, 5_000),
            "ablation_holdout": (20_000, 5_000),
            "ablation_epochs": (10, 1),        # TRM epochs; the validation split keeps the best one
            "fine_tune_seeds": (list(range(600, 610)), [600, 601]),   # held-out seeds of the epochs table
            "sizes": ("10k,100k,1M", "10k"),
            "what_if_size": (10_000, 0),       # 0 = skip the simulation what-ifs
            "e2e_repeats": (3, 1), "seeds": (20, 3), "reading_opportunities": (20_000, 2_000),
            "reader_seeds": (20, 2),           # seeds 1..N of the reader sweep (readers)
            "controls_seeds": (20, 1),         # evaluation seeds 1..N of the controls section
            "controls_choosing_seeds": (10, 1)}   # held-out seeds 101.. that choose each best fixed setting


def engine(s: dict) -> dict:
    from bench import engine_bench, torch_bench
    result = engine_bench.run(s["repeats"], quick=s["quick"])
    result["torch"] = torch_bench.run(s["torch_python"], s["torch_rounds"], max(2, s["repeats"] - 1))
    return result


def ablation(s: dict) -> dict:
    from bench.ablation import run
    return run(s["ablation_seeds"], s["ablation_samples"], s["ablation_holdout"], s["ablation_epochs"])


def fine_tune(s: dict) -> dict:
    from bench.fine_tune_bench import run
    return run(s["fine_tune_seeds"])


def simulation(s: dict) -> dict:
    from bench import sim_bench
    from trm_demo.config import load_config
    sizes = [SIZES[name] for name in s["sizes"].split(",")]
    return sim_bench.run(sizes, load_config().simulation.chunk_size, 1 if s["quick"] else s["repeats"],
                         s["what_if_size"])


def end_to_end(s: dict) -> dict:
    from bench.sim_bench import end_to_end
    return end_to_end(s["e2e_repeats"])


def market(s: dict) -> dict:
    from bench.market_bench import run
    return run(s["seeds"], s["reading_opportunities"])


def readers(s: dict) -> dict:
    from bench.market_bench import reader_sweep
    return reader_sweep(list(range(1, s["reader_seeds"] + 1)))


def controls(s: dict) -> dict:
    from bench.controls_bench import run
    return run(s["controls_seeds"], s["controls_choosing_seeds"])


def readme(s: dict) -> dict:
    from bench.readme_bench import run
    return run(tests=not s["quick"])


SECTIONS = {f.__name__: f for f in (engine, ablation, fine_tune, simulation, end_to_end, market, readers, controls,
                                    readme)}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="~40 s smoke run (plus two controls seeds); writes bench/results-quick.json only")
    p.add_argument("--only", help=f"comma-separated sections from {','.join(SECTIONS)} (default: all)")
    p.add_argument("--seeds", type=int, help="seeds in the multi-seed table (default 20; --quick 3)")
    p.add_argument("--repeats", type=int, help="timing repeats per figure (default 5; --quick 3)")
    p.add_argument("--sizes", help="simulation sizes, comma-separated from 10k,100k,1M (default all)")
    p.add_argument("--torch-python", default=sys.executable, metavar="PATH",
                   help="interpreter for the PyTorch comparison (one where `import torch` works)")
    p.add_argument("--render", action="store_true",
                   help="measure nothing: rewrite docs/BENCHMARKS.md from bench/results.json (after a change to the page)")
    args = p.parse_args(argv)
    if args.render and (args.only or args.quick):
        p.error("--render measures nothing: it takes no --only or --quick")
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS] + \
        [size for size in (args.sizes or "").split(",") if size and size not in SIZES]
    if unknown:
        p.error(f"unknown section or size {', '.join(unknown)}; sections: {', '.join(SECTIONS)}; "
                f"sizes: {', '.join(SIZES)}")
    settings = {name: values[args.quick] for name, values in PROFILES.items()}
    settings.update({name: getattr(args, name) for name in ("seeds", "repeats", "sizes")
                     if getattr(args, name) is not None})
    return chosen, {**settings, "quick": args.quick, "torch_python": args.torch_python, "render": args.render}


def written_by_the_reader_bench(page_path: Path) -> str:
    """The page's reading-TRM section, which `python -m bench.reader` writes between its markers: kept as it is
    (a rewrite of the page used to drop it)."""
    from bench.reader import MARKER
    old = page_path.read_text() if page_path.exists() else ""
    if MARKER[0] not in old or MARKER[1] not in old:
        return ""
    return "\n" + old[old.index(MARKER[0]):old.index(MARKER[1]) + len(MARKER[1])] + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen, settings = parse_args(argv)
    command = " ".join(["python -m bench", *argv])
    json_path = REPO_ROOT / "bench" / ("results-quick.json" if settings["quick"] else "results.json")
    if settings.pop("render"):
        return write_page(json.loads(json_path.read_text()), REPO_ROOT / "docs" / "BENCHMARKS.md")
    kept = json.loads(json_path.read_text()) if json_path.exists() and len(chosen) < len(SECTIONS) else {}
    here = machine()
    # Only sections that say which command, commit and CPU measured them are kept: the page names them.
    results = {"machine": here, **{name: kept[name] for name in SECTIONS if "measured_by" in kept.get(name, {})}}
    started_at, started = datetime.now(timezone.utc).isoformat(timespec="seconds"), time.perf_counter()
    for i, name in enumerate(chosen, start=1):
        print(f"[{i}/{len(chosen)}] {name} ...", file=sys.stderr, flush=True)
        section_started, load = time.perf_counter(), [round(x, 2) for x in os.getloadavg()]
        try:
            results[name] = SECTIONS[name](settings)
        except Exception as err:  # noqa: BLE001 - record, go on, exit 1 at the end
            results[name] = {"error": f"{type(err).__name__}: {err}"}
        results[name].update(measured_by={"command": command, "started_at": started_at,
                                          "commit": here["code"]["commit"], "cpu": here["cpu_model"],
                                          "cores_usable": here["cores_usable"], "load_average": load},
                             section_seconds=time.perf_counter() - section_started)
        print(f"  {results[name].get('error', 'done')} in {results[name]['section_seconds']:.1f} s", file=sys.stderr)
    end = machine()
    results["machine"].update(load_average_at_end=end["load_average_at_start"], code_at_end=end["code"])
    results["meta"] = {"command": command, "started_at": started_at, "total_seconds": time.perf_counter() - started,
                       "settings": settings}
    json_path.write_text(json.dumps(results, indent=1) + "\n")   # first: a page that fails keeps the figures
    print(f"wrote {os.path.relpath(json_path)}")
    if settings["quick"]:
        print(report.markdown(results))
    else:
        write_page(results, REPO_ROOT / "docs" / "BENCHMARKS.md")
    return 1 if any("error" in results[name] for name in chosen) else 0


def write_page(results: dict, page_path: Path) -> int:
    """Print the page of `results` and write it to `page_path`, keeping the reading-TRM section there."""
    page = report.markdown(results)
    print(page)
    page_path.write_text(page + written_by_the_reader_bench(page_path))
    print(f"wrote {os.path.relpath(page_path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark command: python -m bench [--quick] (or python bench/run.py).

Sections, in order: machine, engine (+ where a step's time goes,
PyTorch), ablation, simulation, end-to-end, multi-seed quality.
Prints the Markdown page, writes bench/results.json and regenerates docs/BENCHMARKS.md
(a --quick smoke run writes bench/results-quick.json only, so that smoke
figures never replace the page). A section that fails is recorded with its
error and the command exits 1 after writing what it has.
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

SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}

# name -> (default, --quick)
PROFILES = {
    "repeats": (5, 3),                 # timing repeats per figure (median reported)
    "torch_rounds": (2, 1),            # alternating numpy/torch process rounds
    "ablation_seeds": ([1, 2, 3], [1]),
    "ablation_samples": (50_000, 5_000),
    "ablation_holdout": (20_000, 5_000),
    "ablation_epochs": (10, 1),        # TRM epochs; the validation split keeps the best one
    "sizes": ("10k,100k,1M", "10k"),
    "what_if_size": (10_000, 0),       # 0 = skip the simulation what-ifs
    "e2e_repeats": (3, 1),
    "seeds": (20, 3),
}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="~30 s smoke run; writes bench/results-quick.json only")
    p.add_argument("--seeds", type=int, help="seeds in the multi-seed table (default 10; --quick 3)")
    p.add_argument("--repeats", type=int, help="timing repeats per figure (default 5; --quick 3)")
    p.add_argument("--sizes", help="simulation sizes, comma-separated from 10k,100k,1M (default all)")
    p.add_argument("--torch-python", default=sys.executable, metavar="PATH",
                   help="interpreter for the PyTorch comparison (one where `import torch` works)")
    p.add_argument("--only", help="comma-separated sections: engine,ablation,simulation,end_to_end,quality")
    p.add_argument("--json", dest="json_path", metavar="PATH", help="results JSON (default bench/results.json)")
    p.add_argument("--markdown", metavar="PATH", help="benchmark page (default docs/BENCHMARKS.md; "
                   "--quick writes none unless given)")
    return p.parse_args(argv)


def settings_for(args) -> dict:
    chosen = {name: values[1 if args.quick else 0] for name, values in PROFILES.items()}
    for name in ("seeds", "repeats", "sizes"):
        if getattr(args, name) is not None:
            chosen[name] = getattr(args, name)
    unknown = [s for s in chosen["sizes"].split(",") if s not in SIZES]
    if unknown:
        raise SystemExit(f"error: unknown size {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    chosen["quick"] = args.quick
    return chosen


# --- sections ---

def engine_section(s: dict, torch_python: str) -> dict:
    from bench import engine_bench, torch_bench
    result = engine_bench.run(s["repeats"], quick=s["quick"])
    result["torch"] = torch_bench.run(torch_python, s["torch_rounds"], max(2, s["repeats"] - 1))
    return result


def ablation_section(s: dict) -> dict:
    from bench import ablation
    return ablation.run(s["ablation_seeds"], s["ablation_samples"], s["ablation_holdout"], s["ablation_epochs"])


def simulation_section(s: dict) -> dict:
    from bench import sim_bench
    from trm_demo.config import load_config
    chunk = load_config().simulation.chunk_size
    sizes = [SIZES[name] for name in s["sizes"].split(",")]
    return sim_bench.run(sizes, chunk, s["repeats"] if not s["quick"] else 1, s["what_if_size"])


def end_to_end_section(s: dict) -> dict:
    from bench import quality_bench
    return quality_bench.end_to_end(s["e2e_repeats"])


def quality_section(s: dict) -> dict:
    from bench import quality_bench
    return quality_bench.multi_seed(s["seeds"])


SECTIONS = {
    "engine": lambda s, a: engine_section(s, a.torch_python),
    "ablation": lambda s, a: ablation_section(s),
    "simulation": lambda s, a: simulation_section(s),
    "end_to_end": lambda s, a: end_to_end_section(s),
    "quality": lambda s, a: quality_section(s),
}


def run_sections(settings: dict, args) -> dict:
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    results = {}
    for i, name in enumerate(chosen, start=1):
        if name not in SECTIONS:
            raise SystemExit(f"error: unknown section '{name}'; choose from {', '.join(SECTIONS)}")
        say(f"[{i}/{len(chosen)}] {name} ...")
        started = time.perf_counter()
        try:
            results[name] = SECTIONS[name](settings, args)
        except Exception as err:  # noqa: BLE001 - record, go on, exit 1 at the end
            results[name] = {"error": f"{type(err).__name__}: {err}"}
            say(f"  failed: {results[name]['error']}")
        results[name]["section_seconds"] = time.perf_counter() - started
        say(f"  done in {results[name]['section_seconds']:.1f} s")
    return results


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = settings_for(args)
    from bench import machine
    started_at = datetime.now(timezone.utc)
    started = time.perf_counter()
    results = {"machine": machine.describe()}
    results.update(run_sections(settings, args))
    at_end = machine.describe()
    results["machine"]["load_average_at_end"] = at_end["load_average_at_start"]
    results["machine"]["code_at_end"] = at_end["code"]
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    results["meta"] = {"command": command.strip(), "started_at": started_at.isoformat(timespec="seconds"),
                       "total_seconds": time.perf_counter() - started, "settings": settings}
    print(report.markdown(results))
    _write(results, args)
    return 1 if any(isinstance(v, dict) and "error" in v for v in results.values()) else 0


def _write(results: dict, args) -> None:
    json_path = Path(args.json_path or REPO_ROOT / "bench" / ("results-quick.json" if args.quick else "results.json"))
    json_path.write_text(json.dumps(results, indent=1, default=_jsonable) + "\n")
    written = [json_path]
    markdown = args.markdown or (None if args.quick else REPO_ROOT / "docs" / "BENCHMARKS.md")
    if markdown:
        markdown = Path(markdown)
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(report.markdown(results))
        written.append(markdown)
    print("wrote " + ", ".join(os.path.relpath(p) for p in written))


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())

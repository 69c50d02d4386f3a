"""The reasoning report: accuracy by step and by difficulty, halting rules, comparisons, the paper side by side.

Reads the plain result dict of `puzzle eval`; writes Markdown and its one-file HTML twin.
"""

from __future__ import annotations

from trm_demo.atomic import write_text
from trm_demo.report.charts import chart
from trm_demo.report.document import Bullets, Document, Paragraph, Section, Table, section, to_markdown
from trm_demo.report.formats import pct
from trm_demo.report.html import write_html

PAPER_REFERENCE = ("Sudoku-Extreme (9×9), ~5M parameters, GPUs", "87.4 %")


def write_reasoning_report(path, html_path, result: dict) -> None:
    doc = reasoning_document(result)
    write_text(path, to_markdown(doc))
    write_html(html_path, doc)


def reasoning_report(result: dict) -> str:
    return to_markdown(reasoning_document(result))


def _settled(curve: list[float], tolerance: float = 0.01) -> int:
    """The first step (1-based) within `tolerance` of the curve's best value: where more steps stop paying."""
    best = max(curve)
    return next(i for i, v in enumerate(curve, 1) if best - v <= tolerance)


def reasoning_document(result: dict) -> Document:
    steps = result["steps"]
    exact, cells = result["exact_solve"], result["blank_cell_accuracy"]
    at = {s: exact[s - 1] for s in steps}
    training = result.get("training", {})
    clock = training.get("wall_clock") or {}
    cfg = training.get("config", {})
    facts = [f"Exact solve: **{pct(at[1])} after step 1**" + (f", {pct(at[4])} after step 4" if 4 in at else "")
             + (f", {pct(at[8])} after step 8" if 8 in at else "") + f", {pct(exact[-1])} after step {steps[-1]}."]
    if clock:
        facts.append(f"Training: {cfg.get('iterations')} iterations × {cfg.get('slots')} slots, "
                     f"{clock.get('training_seconds', 0):.0f} s (+ {clock.get('data_seconds', 0):.0f} s generating "
                     f"{cfg.get('train_puzzles')} + {cfg.get('test_puzzles')} puzzles), seed {training.get('seed')}, "
                     f"on 2 CPU cores with single-threaded BLAS (NumPy {result.get('versions', {}).get('numpy', '?')}).")
    if training.get("command"):
        facts.append(f"Checkpoint produced by `{training['command']}`; this report by `{result.get('command', '')}`.")
    settled = _settled(exact)
    by = result["by_difficulty"]
    hardest = list(by)[-1] if by else None
    lead = (Paragraph(f"The same TRM core as the funnel model, in its sequence (MLP-mixer) variant, trained with the "
                      f"paper's ACT carry. {result['n_parameters']:,} parameters; {result['puzzles']} held-out puzzles "
                      "whose symmetry orbits never appear in training. Every puzzle runs every step; accuracy is the "
                      "EMA model's answer after that many supervision steps."),
            Bullets(tuple(facts)))
    shown = [s for s in (1, 2, 4, 8, 16) if s in at]
    sections = [
        section("Accuracy against supervision steps",
                chart(f"Exact solve rose from {pct(exact[0])} at step 1 to {pct(exact[settled - 1])} by step {settled}"
                      if settled > 1 else f"Exact solve was {pct(exact[0])} from step 1 on",
                      "supervision step (#)", "held-out accuracy (%)", steps,
                      [("line", "exact solve", [100 * v for v in exact]),
                       ("line", "blank cells right", [100 * v for v in cells])], len(steps), y_range=(0, 100)),
                Table(("Step", "Exact solve", "Blank cells right", "Halting head (q > 0) agrees with exactness"),
                      tuple((s, pct(e), pct(c), pct(h)) for s, e, c, h in
                            zip(steps, exact, cells, result["halt_agrees_with_exact"])), numeric=(0, 1, 2, 3))),
        section("By difficulty (rounds of naked/hidden singles a solver needs)",
                chart(f"The hardest puzzles ({hardest} rounds) needed {_settled(by[hardest]['exact_solve'])} steps to "
                      f"settle at {pct(max(by[hardest]['exact_solve']))}", "supervision step (#)",
                      "held-out exact solve (%)", steps,
                      [("line", f"{band} rounds", [100 * v for v in part["exact_solve"]]) for band, part in by.items()],
                      len(steps), y_range=(0, 100)) if by else None,
                Paragraph("One line per difficulty band, in the table's order; at step 1 the hardest puzzles are lowest."),
                Table(("Rounds of singles", "Puzzles", *(f"Step {s}" for s in shown)),
                      tuple((rounds, part["puzzles"], *(pct(part["exact_solve"][s - 1]) for s in shown))
                            for rounds, part in by.items()), numeric=tuple(range(1, 2 + len(shown))))),
        section(f"Halting: stop each puzzle at the first step a rule fires (cap {steps[-1]})",
                Table(("Stop rule", "Mean steps", "Exact solve", "Stopped before the cap"),
                      tuple((row["rule"], f"{row['mean_steps']:.2f}", pct(row["exact_solve"]),
                             pct(row["halted_before_cap"])) for row in result["halting"]), numeric=(1, 2, 3)),
                _agreement(result["halt_agrees_with_exact"])),
        _comparisons(result.get("comparisons")),
        section("Side by side with the paper",
                Table(("", "Task", "Parameters", "Hardware", "Exact solve"),
                      (("TRM paper (Jolicoeur-Martineau 2025)", PAPER_REFERENCE[0].split(",")[0], "~5M", "GPUs",
                        PAPER_REFERENCE[1]),
                       ("this demo", "6×6 Sudoku, 9–12 givens", f"{result['n_parameters']:,}", "CPU, NumPy",
                        f"{pct(exact[min(7, len(exact) - 1)])} at step {min(8, steps[-1])}")), numeric=(2, 4)),
                Paragraph("The tasks differ in size and difficulty: this is a demonstration that recursion pays off on "
                          "a reasoning task at laptop scale, not a reproduction of the paper's number.")),
    ]
    return Document("See it reason: 6×6 Sudoku, one tiny recursive network", lead, tuple(sections))


def _agreement(agree: list[float]) -> Paragraph | None:
    if len(agree) < 2:
        return None
    return Paragraph(f"The halting head scores every cell and keeps the least sure one. Its verdict q > 0 agrees with "
                     f"whether the board is exactly right on {pct(agree[0])} of puzzles at step 1 and on "
                     f"{pct(min(agree[1:]))} to {pct(max(agree[1:]))} from step 2 on: a stricter threshold buys "
                     "accuracy for a few more steps (table above).")


def _comparisons(comparisons) -> Section:
    if not comparisons:
        return section("Comparisons at equal training compute",
                       Paragraph("Not measured by this run: the one-pass model (N_sup=1, n=1, T=1) and the flat MLP "
                                 "baselines are not implemented yet. The design prototype measured 49 % for the "
                                 "one-pass model (collapsing when iterated) and 0 % for a 503k-parameter flat MLP."))
    return section("Comparisons at equal training compute",
                   Paragraph("Each baseline trained on the same augmented training puzzles with the same AdamW, "
                             "clipping and EMA, for as many training FLOPs (forward + backward multiply-adds) as the "
                             "main model."),
                   Bullets(tuple(f"{row['name']}: {row['summary']}; {row['training_seconds']:.0f} s"
                                 for row in comparisons)))

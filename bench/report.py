"""Tables from bench results, rendered as Markdown (the page, and the terminal).

Each `*_table(results)` returns (title, headers, rows, notes) or None when its section did not run.
"""

from __future__ import annotations

from trm_demo.report.formats import money, num, pct

Table_ = tuple[str, list[str], list[list[str]], list[str]]


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.0f} µs"
    return f"{seconds * 1e3:,.2f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def span(t: dict, fmt=ms) -> str:
    return f"{fmt(t['low'])} – {fmt(t['high'])} (n={t['repeats']})"


def whole(x: float) -> str:
    return num(x, 0)


def ci(stat: dict, digits: int, scale: float = 1.0, suffix: str = "", dollars: bool = False) -> str:
    if stat is None or stat.get("mean") is None:
        return "-"
    half = stat.get("half_width", stat.get("ci95"))   # the product's mean_ci: ci95 = [low, high], half_width
    mean = (money if dollars else num)(stat["mean"] * scale, digits)
    return mean + ("" if half is None else f" ± {num(half * scale, digits)}") + suffix


def verdict(hit: bool) -> str:
    return "hit" if hit else "MISS"


def _ok(results: dict, name: str) -> dict | None:
    section = results.get(name)
    return section if section and "error" not in section else None


# --- tables ---

def machine_table(r: dict) -> Table_:
    m = r["machine"]
    runtime = m.get("openblas_runtime") or {}
    blas = m["blas"]
    rows = [["CPU", m["cpu_model"]], ["cores", f"{m['cores']} ({m['cores_usable']} usable)"],
            ["memory", f"{m['memory_gib']} GiB"], ["Python", m["python"]], ["NumPy", m["numpy"]],
            ["BLAS (build)", f"{blas.get('name')} {blas.get('version') or ''}".strip()],
            ["BLAS (runtime)", f"kernel {runtime.get('kernel', '?')}, {runtime.get('threads', '?')} threads"
             if runtime else "not reachable through ctypes"],
            ["BLAS environment", ", ".join(f"{k}={v}" for k, v in m["blas_env"].items()) or "none"],
            ["load average (1/5/15 min)", f"start {m['load_average_at_start']}, end {m.get('load_average_at_end')}"],
            ["code measured", _code_text(m.get("code") or {}, m.get("code_at_end") or {})]]
    engine = _ok(r, "engine")
    if engine and engine.get("torch"):
        t = engine["torch"]
        rows.append(["PyTorch", t.get("skipped") or f"{t['torch']} ({t['python']})"])
    return "Machine", ["what", "value"], rows, []


UNSTABLE = 3.0   # slowest / fastest repeat above this: the figure is not to be trusted


def stable(*timings: dict) -> bool:
    """True when every timing's slowest and fastest repeats agree within UNSTABLE x."""
    return all(min(t["low"], t["high"]) > 0 and max(t["low"], t["high"]) / min(t["low"], t["high"]) <= UNSTABLE
               for t in timings)


def _fraction(d: dict) -> tuple[float, bool]:
    """(step rate / matmul rate, whether both timings behind it are stable)."""
    return d["fraction_of_matmul_rate"], stable(d["training_step_seconds"], d["matmul_only_seconds"])


def _cell(t: dict, fmt) -> str:
    """'median (fastest – slowest)', flagged when the repeats disagree wildly."""
    low, high = min(t["low"], t["high"]), max(t["low"], t["high"])
    flag = f" ⚠ {high / low:.0f}× spread" if low > 0 and high / low > UNSTABLE else ""
    return f"{fmt(t['median'])} ({fmt(t['low'])} – {fmt(t['high'])}){flag}"


def _code_text(start: dict, end: dict) -> str:
    text = f"commit {start.get('commit') or '?'}"
    changes = start.get("uncommitted_changes")
    text += f", uncommitted changes in {', '.join(changes)}" if changes else ", no uncommitted changes"
    before, after = start.get("fingerprints") or {}, end.get("fingerprints") or {}
    moved = sorted(f for f in set(before) | set(after) if before.get(f) != after.get(f))
    if end.get("commit") and end.get("commit") != start.get("commit"):
        text += f"; HEAD moved to {end['commit']} during the run"
    if moved:
        text += f"; changed during the run: {', '.join(moved)}"
    return text


def engine_table(r: dict) -> Table_ | None:
    e = _ok(r, "engine")
    if not e:
        return None
    spec, model = e["model"]["spec"], e["model"]
    one, default = (e["by_threads"][k] for k in sorted(e["by_threads"], key=int))
    gflops = lambda x: num(x, 1)

    def both(key, fmt, pick=lambda d: d):
        return [_cell(pick(one[key]), fmt), _cell(pick(default[key]), fmt)]

    def inference(n):
        return lambda d: d[n]["seconds"]

    rows = [
        ["training throughput (sample-steps/s)", *both("sample_steps_per_second", whole),
         f"batch {model['batch_size']}, via training.fit"],
        ["training step", *both("training_step_seconds", ms),
         "1 supervision step: forward T cycles, backward the last, clip, AdamW, EMA"],
        ["achieved GFLOP/s (step)", *both("step_gflops", gflops),
         f"{e['flops_per_step'] / 1e6:,.1f} M matmul FLOPs per step, counted from the spec "
         "(= traced: test/test_bench_flops.py)"],
        ["numpy matmul GFLOP/s, same shapes", *both("matmul_gflops", gflops), "the step's matmuls alone"],
        ["step rate / matmul rate", *(pct(x, 0) if ok else f"({pct(x, 0)}) ⚠ unreliable"
                                      for x, ok in (_fraction(one), _fraction(default))), "target ≥ 50 %"],
        ["inference, 3 candidates", *both("inference", ms, inference("3")),
         f"cap {model['supervision_steps']}, threshold {model['halt_threshold']}, "
         f"mean steps {one['inference']['3']['mean_steps']:.2f}"],
        ["inference, 600 candidates", *both("inference", ms, inference("600")),
         f"mean steps {one['inference']['600']['mean_steps']:.2f}"],
        ["inference, 600 candidates, all 6 steps", *both("inference_600_full_depth_seconds", ms),
         f"{ms(one['inference_600_full_depth_seconds']['median'] / model['supervision_steps'])} per step (1 thread)"],
    ]
    rows += _torch_rows(e.get("torch") or {})
    notes = [f"Model: D={spec['hidden_size']}, expansion {spec['expansion']}, n={spec['n_cycles']}, "
             f"T={spec['outer_steps']}, {spec['activation']}, {model['parameters']:,} parameters; inference "
             "uses the shipped checkpoint. Cells: median (fastest – slowest) over the repeats; ⚠ marks a figure "
             f"whose repeats differ more than {UNSTABLE:.0f}×, typically a second BLAS thread waiting for a core "
             "that another process holds."]
    return ("Engine (default model size)",
            ["measure", *(f"{d['blas_threads']} BLAS thread{'s' if d['blas_threads'] != 1 else ''}, {d['where']}"
                          for d in (one, default)), "note"], rows, notes)


def _torch_rows(t: dict) -> list[list[str]]:
    if not t or "skipped" in t:
        return [["PyTorch CPU eager", "-", "-", t.get("skipped", "torch not installed: skipped")]]
    one, two = t["threads_1"], t["threads_2"]
    return [["PyTorch training step", _cell(one["torch_step_seconds"], ms), _cell(two["torch_step_seconds"], ms),
             f"torch {t['torch']}, same shapes (max logit difference {t['parity_max_abs_logit_diff']:.1e}); "
             f"fresh processes with {one['torch_threads']} and {two['torch_threads']} threads"],
            ["NumPy training step (same rounds)", _cell(one["numpy_step_seconds"], ms),
             _cell(two["numpy_step_seconds"], ms), "fresh processes, alternating with torch"],
            ["time ratio NumPy / PyTorch", *(f"{x['ratio_numpy_over_torch']:.2f} (NumPy "
                                             f"{1 / x['ratio_numpy_over_torch']:.2f}× as fast)" for x in (one, two)),
             "target ≤ 0.5 (≥ 2× faster)"]]


def phases_table(r: dict) -> Table_ | None:
    e = _ok(r, "engine")
    if not e:
        return None
    phases = e["phases_seconds"]
    total = sum(p["median"] for p in phases.values())
    rows = [[name, ms(p["median"]), pct(p['median'] / total, 0)] for name, p in phases.items()]
    rows.append(["sum", ms(total), "100%"])
    return ("Training step by phase (fit's inner loop, timed by hand, 1 BLAS thread)",
            ["phase", "median per step", "share"], rows, [])


HISTORICAL_SPEEDUPS = (
    "Historical, measured on 2026-11-26 by the since-removed bench/speedups.py and already applied to the engine: "
    "clip+AdamW+EMA over one flat buffer saved 147 µs per step, out= buffers in swiglu and rms_norm about 137 µs, "
    "pre*pre*pre instead of pre**3 17.8 ms (gelu only). Environment, same date: 2 BLAS threads made a step 1.13× "
    "and a 600-candidate inference 1.22× faster on an idle machine but a step 2.03× slower next to one busy "
    "process; OPENBLAS_CORETYPE unset (kernel SkylakeX instead of the pinned Haswell) 1.21× faster.")


def profile_table(r: dict) -> Table_ | None:
    e = _ok(r, "engine")
    if not e or "profile" not in e:
        return None
    p = e["profile"]
    op_total = sum(s for g, s in p["groups_seconds"].items() if not g.startswith("the rest"))
    rows = [[group, ms(seconds), pct(seconds / op_total, 0)] for group, seconds in p["groups_seconds"].items()
            if not group.startswith("the rest")]
    rows += [[f"  {op['op']}", ms(op["seconds"]), f"{op['calls']:.0f} calls"] for op in p["top_ops"][:8]]
    one = e["by_threads"]["1"]
    matmul_alone = one["matmul_only_seconds"]["median"] / one["training_step_seconds"]["median"]
    notes = [f"One BLAS thread; {p['numpy_calls_per_step']:.0f} numpy calls per training step; "
             f"untraced step {ms(p['step_seconds'])}. Shares are of the time measured inside numpy ops "
             "(the tracer inflates small ops a little).",
             f"Independently: the step's matmuls alone ({ms(one['matmul_only_seconds']['median'])}) take "
             f"{matmul_alone:.0%} of an untraced step.",
             HISTORICAL_SPEEDUPS]
    return "Where a training step's time goes (op trace)", ["group / top ops", "time per step", "share"], rows, notes


def ablation_table(r: dict) -> Table_ | None:
    a = _ok(r, "ablation")
    if not a:
        return None
    s = a["settings"]
    rows = []
    for row in a["rows"]:
        e = row["excess_log_loss"]
        budget = (f"{row['optimizer_steps']:,} ({row['steps_at_selected']:,.0f} at the kept epoch)"
                  if "optimizer_steps" in row else "")
        rows.append([row["model"], num(row.get("parameters"), 0) if row.get("parameters") else "",
                     ci(row["log_loss"], 4), ci(e, 4), f"{e['low']:.4f} – {e['high']:.4f}", budget,
                     f"{row['train_seconds']:.1f} s" if row.get("train_seconds") else "", row["note"]])
    notes = [better_by(c) + "." for c in a["comparisons"]]
    notes.append(f"Protocol: from scratch on {s['samples']:,} pairs of the default market (drift {s['drift']}); "
                 f"the last {100 * s['validation_share']:.0f} % of them (observed outcomes only) picks the epoch whose EMA "
                 f"(decay {s['ema_decay']} after warm-up) is kept, for every model, and the TRM's step cap. "
                 f"Same budget in optimiser steps: the TRM (n={s['n_cycles']}, hidden {s['hidden_size']}) "
                 f"{s['epochs']} epoch(s) of N_sup={s['supervision_steps']} steps per batch, the MLP {s['mlp_passes']} "
                 f"passes of one step per batch (batch {s['batch_size']}, AdamW lr {s['learning_rate']}); "
                 "parameter counts within 2 %. Scored on "
                 f"{s['holdout']:,} held-out pairs: mean ± 95 % t interval and range over seeds {s['seeds']}; "
                 "train time = median wall time of one model's training on one BLAS thread. "
                 "Excess log-loss = KL(true p || model p), 0 is perfect.")
    if a.get("command"):
        notes.append(f"Section run alone by `{a['command'].strip()}` on {a['started_at'].replace('T', ' ')}.")
    return ("Ablation: TRM vs a plain MLP of the same size, same data, selection and optimiser steps",
            ["model", "parameters", "held-out log-loss", "excess log-loss", "excess, seed range",
             "optimiser steps", "train time", "selected per seed"], rows, notes)


def halting_table(r: dict) -> Table_ | None:
    a = _ok(r, "ablation")
    if not a:
        return None
    head = f"TRM T={a['settings']['outer_steps']}"
    rows = [[f"{h['halt_threshold']:g}", ci(h["mean_steps"], 2), ci(h["halting_head"], 4),
             ci(h["random_stopping"], 4), f"{ci(h['fixed_cap'], 4)} (cap {', '.join(map(str, h['fixed_caps']))})",
             better_by({"a": "the halting head", "b": "random stopping", "a_mean": h["halting_head"]["mean"],
                        "b_mean": h["random_stopping"]["mean"], "difference": h["head_minus_random"]}) + "; " +
             better_by({"a": "the halting head", "b": "the fixed cap", "a_mean": h["halting_head"]["mean"],
                        "b_mean": h["fixed_cap"]["mean"], "difference": h["head_minus_fixed"]})]
            for h in a["halting"]]
    notes = [f"{head} of the ablation above, read to full depth once on the held-out pairs: the halting head "
             "stops each pair at the first step with sigmoid(q) ≥ threshold; random stopping gives the same steps "
             "shuffled across pairs (same mean depth, no knowledge of the pair); the fixed cap is the one nearest "
             "the head's mean steps (per seed). Cells: held-out excess log-loss, mean ± 95 % t interval over seeds."]
    return ("Halting: the head's stopping vs random stopping vs a fixed cap",
            ["halt threshold", "mean steps", "halting head", "random stopping, same steps", "nearest fixed cap",
             "which is better and by how much"], rows, notes)


def better_by(c: dict) -> str:
    """Which of a and b has the lower excess log-loss and by how much, from the paired difference a - b."""
    d = c["difference"]
    if round(abs(d["mean"]), 4) == 0:
        return f"{c['a']} and {c['b']} tie at 4 decimals ({c['a_mean']:.4f} vs {c['b_mean']:.4f})"
    a, b = (c["a"], c["b"]) if d["mean"] < 0 else (c["b"], c["a"])
    low, high = sorted((c["a_mean"], c["b_mean"]))
    how_much = f"{low:.4f} vs {high:.4f}, {100 * (high - low) / high:.0f} % lower"
    if d["ci95"] is None:
        return f"{a} is better than {b} by {abs(d['mean']):.4f} excess log-loss ({how_much}) on one seed (no interval)"
    if abs(d["mean"]) <= d["ci95"]:
        return (f"{c['a']} vs {c['b']}: no significant difference ({c['a_mean']:.4f} vs {c['b_mean']:.4f}; "
                f"difference {d['mean']:+.4f} ± {d['ci95']:.4f} over {d['n']} seeds)")
    return (f"{a} is better than {b} by {abs(d['mean']):.4f} ± {d['ci95']:.4f} excess log-loss ({how_much}), "
            f"paired over {d['n']} seeds")


def simulation_table(r: dict) -> Table_ | None:
    sim = _ok(r, "simulation")
    if not sim:
        return None
    target_rate, target_mb = sim["targets"]["opportunities_per_second"], sim["targets"]["peak_mb_at_1m"]
    rows = []
    for row in sim["rows"]:
        rate = row["opportunities_per_second"]
        million = row["opportunities"] >= 1_000_000
        memory_note = f"; < {target_mb} MB: {verdict(row['peak_rss_mb'] < target_mb)}" if million else ""
        rows.append([f"{row['opportunities']:,}", str(row["chunk"]), whole(rate["median"]), span(rate, whole),
                     f"{row['peak_rss_mb']:.0f} MB", f"{row['telemetry_mb']:.0f} MB",
                     f"{verdict(rate['median'] >= target_rate)}{memory_note}"])
    notes = [sim["budget_note"] + ".", "Peak memory = maxrss of a fresh process (imports and checkpoint included: "
             f"~{sim['rows'][0]['rss_before_run_mb']:.0f} MB before the run starts). 1M runs once, at chunk 1000."]
    return ("Simulation (run_funnel, pretrained checkpoint, telemetry on)",
            ["opportunities", "chunk", "opportunities/s", "range", "peak memory", "telemetry file",
             f"≥ {target_rate:,}/s"],
            rows, notes)


def what_if_table(r: dict) -> Table_ | None:
    sim = _ok(r, "simulation")
    if not sim or not sim.get("what_ifs"):
        return None
    rows = []
    for name, v in sim["what_ifs"].items():
        rate = v["opportunities_per_second"]
        rows.append([name, whole(rate["median"]), span(rate, whole), f"{v['peak_rss_mb']:.0f} MB",
                     f"{v.get('speedup', 1.0):.2f}×"])
    size = next(iter(sim["what_ifs"].values()))
    notes = [f"{size['opportunities']:,} opportunities at chunk {size['chunk']}; the engine is unchanged, "
             "the what-ifs wrap model.infer or set the environment of the simulation process. "
             "A row near 1.00× brings nothing more on this code (for example because the code already does it)."]
    return "Simulation what-ifs", ["variant", "opportunities/s", "range", "peak memory", "speed-up"], rows, notes


def end_to_end_table(r: dict) -> Table_ | None:
    e = _ok(r, "end_to_end")
    if not e:
        return None
    return ("End-to-end", ["command", "median wall time", "range"],
            [[e["command"], ms(e["seconds"]["median"]), span(e["seconds"])]], [])


def quality_table(r: dict) -> Table_ | None:
    q = _ok(r, "quality")
    if not q:
        return None
    names = {"trm": "Tiny Recursive Model", "llm": "LLM (simulated)", "greedy": "Greedy", "oracle": "Oracle"}
    rows = []
    for key, name in names.items():
        s = q["strategies"][key]
        rows.append([name, ci(s["expected_net_value"], 0, dollars=True), ci(s["net_value"], 0, dollars=True),
                     ci(s["share_of_oracle_expected"], 1, 100, " %")])
    for key, label in (("trm_minus_greedy", "TRM − greedy (paired)"), ("trm_minus_llm", "TRM − LLM (paired)")):
        d = q["paired_net_value"][key]
        crosses = d["half_width"] is not None and abs(d["mean"]) <= d["half_width"]
        rows.append([label, ci(d, 0, dollars=True), "",
                     "no significant difference" if crosses else "interval excludes 0"])
    n = len(q["seeds"])
    notes = [f"Default run (200 opportunities), seeds {q['seeds'][0]}..{q['seeds'][-1]}: mean ± 95 % t interval "
             f"over {n} seeds (t = {_t_for(n):.3f}). Paired differences are per seed (common random numbers). "
             f"Source: `{q['source']}`, {q['wall_seconds']:.0f} s."]
    return ("Multi-seed quality", ["strategy", "expected net value", "realised net value", "share of oracle (expected)"], rows, notes)


def _t_for(n: int) -> float:
    from trm_demo.funnel.evaluation import t95
    return t95(n - 1) if n > 1 else float("nan")


def _verdict_over(settings: list[tuple[str, float, bool, bool]]) -> tuple[str, str]:
    """(measured text, verdict) from (label, shown value, target met, figure stable) per BLAS setting.

    Unstable figures are shown but never count towards the verdict."""
    measured = ", ".join(f"{value} ({label})" + ("" if ok else " ⚠ unreliable") for label, value, _, ok in settings)
    counted = [(label, hit) for label, _, hit, ok in settings if ok]
    if not counted:
        return measured, "unreliable: rerun on a quiet machine"
    hits = [label for label, hit in counted if hit]
    if len(hits) == len(counted):
        return measured, "hit"
    return measured, f"hit with {hits[0]} only" if hits else "MISS"


def targets_table(r: dict) -> Table_ | None:
    rows = []
    e, sim = _ok(r, "engine"), _ok(r, "simulation")
    if e:
        settings = [(f"{k} BLAS thread{'s' if k != '1' else ''}", pct(x, 0), x >= 0.5, ok)
                    for k, (x, ok) in ((k, _fraction(e["by_threads"][k])) for k in sorted(e["by_threads"], key=int))]
        rows.append(["engine", "training step ≥ 50 % of numpy's matmul rate", *_verdict_over(settings)])
        t = e.get("torch") or {}
        if "threads_1" in t:
            settings = [(label, f"{1 / t[k]['ratio_numpy_over_torch']:.2f}×", t[k]["ratio_numpy_over_torch"] <= 0.5,
                         stable(t[k]["numpy_step_seconds"], t[k]["torch_step_seconds"]))
                        for label, k in (("1 thread each", "threads_1"), ("2 threads each", "threads_2"))]
            rows.append(["engine", "≥ 2× faster than PyTorch eager", *_verdict_over(settings)])
        else:
            rows.append(["engine", "≥ 2× faster than PyTorch eager", "not measured", t.get("skipped", "")])
    if sim:
        settings = []
        for chunk in sorted({row["chunk"] for row in sim["rows"]}):
            rows_at = [row for row in sim["rows"] if row["chunk"] == chunk]
            slowest = min(rows_at, key=lambda row: row["opportunities_per_second"]["median"])   # conservative
            rate = slowest["opportunities_per_second"]
            settings.append((f"chunk {chunk}", f"{rate['median']:,.0f}/s", rate["median"] >= 10_000,
                             stable(rate)))
        rows.append(["simulation", "≥ 10,000 opportunities/s (telemetry on; slowest size per chunk)",
                     *_verdict_over(settings)])
        million = [row for row in sim["rows"] if row["opportunities"] >= 1_000_000]
        if million:
            peak = million[0]["peak_rss_mb"]
            rows.append(["simulation", "1M opportunities under 300 MB peak", f"{peak:.0f} MB", verdict(peak < 300)])
    return ("Targets", ["area", "target", "measured", "verdict"], rows, []) if rows else None


TABLES = (targets_table, machine_table, engine_table, phases_table, profile_table,
          ablation_table, halting_table, simulation_table, what_if_table, end_to_end_table, quality_table)


def _all_tables(results: dict) -> list[Table_]:
    return [t for t in (make(results) for make in TABLES) if t is not None]


def _errors(results: dict) -> list[str]:
    return [f"{name}: {v['error']}" for name, v in results.items() if isinstance(v, dict) and "error" in v]


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def markdown(results: dict) -> str:
    meta = results["meta"]
    lines = ["# Benchmarks", "",
             "<!-- Generated by the benchmark command; do not edit by hand: rerun it. -->",
             f"Generated by `{meta['command']}` on {meta['started_at'].replace('T', ' ')} "
             f"(took {_duration(meta['total_seconds'])}). Do not edit this page: rerun the command. "
             "Raw figures: `bench/results.json`.", "",
             "Every timing is the median of several repeats, shown with the fastest–slowest range. "
             "The machine may be shared (see the load averages): a wide range means a noisy figure.", ""]
    for table in _all_tables(results):
        lines += markdown_table(table)
    errors = _errors(results)
    if errors:
        lines += ["## Sections that failed", ""] + [f"- {e}" for e in errors] + [""]
    return "\n".join(lines)


def markdown_table(table_: Table_) -> list[str]:
    title, headers, rows, notes = table_
    lines = [f"## {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines + [""] + [f"{note}" for note in notes] + ([""] if notes else [])

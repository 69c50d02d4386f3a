"""The benchmark page (docs/BENCHMARKS.md) from bench/results.json.

Each `*_table(results)` returns (title, headers, rows, notes), or None when its section did not run.
"""

from __future__ import annotations

from trm_demo.funnel.evaluation import mean_ci, t95
from trm_demo.report.formats import Per, money, num, pair_name, pct
from trm_demo.strategies import KEYS, strategy

UNSTABLE = 3.0   # slowest / fastest repeat above this: the figure is not to be trusted


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.0f} µs"
    return f"{seconds * 1e3:,.2f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def whole(x: float) -> str:
    return num(x, 0)


def span(t: dict, fmt=ms) -> str:
    return f"{fmt(t['low'])} – {fmt(t['high'])} (n={t['repeats']})"


def cell(t: dict, fmt) -> str:
    """'median (fastest – slowest)', flagged when the repeats disagree wildly."""
    low, high = min(t["low"], t["high"]), max(t["low"], t["high"])
    flag = "" if stable(t) else f" ⚠ {high / low:.0f}× spread" if low > 0 else " ⚠ spread"
    return f"{fmt(t['median'])} ({fmt(t['low'])} – {fmt(t['high'])}){flag}"


def stable(*timings: dict) -> bool:
    """True when every timing's slowest and fastest repeats agree within UNSTABLE x."""
    return all(min(t["low"], t["high"]) > 0 and max(t["low"], t["high"]) / min(t["low"], t["high"]) <= UNSTABLE
               for t in timings)


def ci(stat: dict | None, digits: int, scale: float = 1.0, suffix: str = "", dollars: bool = False) -> str:
    if stat is None or stat.get("mean") is None:
        return "-"
    mean = money(stat["mean"] * scale, Per.CELL, digits) if dollars else num(stat["mean"] * scale, digits)
    half = stat.get("half_width")
    return mean + ("" if half is None else f" ± {num(half * scale, digits)}") + suffix


def verdict(hit: bool) -> str:
    return "hit" if hit else "MISS"


def thermostat_verdict(v: dict) -> str:
    """hit; a tie when the mean is short but the interval reaches the target (no measurable loss); else MISS."""
    if v["target_met"]:
        return "hit"
    d = v["thermostat_minus_best_fixed"]["per_opportunity"]
    return "tie (interval reaches it)" if d["mean"] + (d.get("half_width") or 0.0) >= v["target_per_opportunity"] \
        else "MISS"


def ok(results: dict, name: str) -> dict | None:
    section = results.get(name)
    return section if section and "error" not in section else None


def fraction(d: dict, clock: str = "wall") -> tuple[float, bool]:
    """(step rate / matmul rate, whether both timings behind it are stable), by the wall clock or in CPU time."""
    step, matmuls = d["training_step_seconds"], d["matmul_only_seconds"]
    if clock == "cpu":
        return d["cpu_fraction_of_matmul_rate"], stable(step["cpu"], matmuls["cpu"])
    return d["fraction_of_matmul_rate"], stable(step, matmuls)


def verdict_over(settings: list[tuple[str, str, bool, bool]]) -> list[str]:
    """[measured text, verdict] from (label, shown value, target met, figure stable) per setting; unstable
    figures are shown but never count towards the verdict."""
    measured = ", ".join(f"{value} ({label})" + ("" if steady else " ⚠ unreliable")
                         for label, value, _, steady in settings)
    hits = [label for label, _, hit, steady in settings if steady and hit]
    counted = sum(steady for *_, steady in settings)
    if not counted:
        return [measured, "unreliable: rerun on a quiet machine"]
    return [measured, "hit" if len(hits) == counted else f"hit with {hits[0]} only" if hits else "MISS"]


# --- tables ---

def targets_table(r: dict):
    rows, e, sim = [], ok(r, "engine"), ok(r, "simulation")
    if e:
        threads = sorted(e["by_threads"], key=int)
        cpu = [("1 BLAS thread, CPU time", *fraction(e["by_threads"]["1"], "cpu"))] \
            if "cpu_fraction_of_matmul_rate" in e["by_threads"]["1"] else []
        rows.append(["engine", "training step ≥ 50 % of numpy's matmul rate", *verdict_over(
            [(label, pct(x, 0), x >= 0.5, steady) for label, x, steady in
             [(f"{k} BLAS thread{'s' if k != '1' else ''}", *fraction(e["by_threads"][k])) for k in threads] + cpu])])
        t = e.get("torch") or {}
        torch_ratios = [(label, t[k][key], stable(t[k][f"numpy_step{clock}seconds"], t[k][f"torch_step{clock}seconds"]))
                        for label, k, key, clock in
                        (("1 thread each", "threads_1", "ratio_numpy_over_torch", "_"),
                         ("2 threads each", "threads_2", "ratio_numpy_over_torch", "_"),
                         ("1 thread each, CPU time", "threads_1", "cpu_ratio_numpy_over_torch", "_cpu_"))
                        if key in t.get(k, {})]
        rows.append(["engine", "≥ 2× faster than PyTorch eager", *(verdict_over(
            [(label, f"{1 / ratio:.2f}×", ratio <= 0.5, steady) for label, ratio, steady in torch_ratios])
            if "threads_1" in t else ["not measured", t.get("skipped", "")])])
    if sim:
        slowest = {c: min((sim_rate(row) for row in sim["rows"] if row["chunk"] == c),
                          key=lambda rate: rate["median"]) for c in sorted({row["chunk"] for row in sim["rows"]})}
        rows.append(["simulation", f"≥ 10,000 opportunities/s ({sim_clock(sim)}, telemetry on; slowest size per chunk)",
                     *verdict_over(
            [(f"chunk {c}", f"{rate['median']:,.0f}/s", rate["median"] >= 10_000, stable(rate))
             for c, rate in slowest.items()])])
        goal = sim["targets"]
        for row in [row for row in sim["rows"] if row["opportunities"] >= 1_000_000][:1]:
            peak, seconds = row["peak_rss_mb"], row["opportunities"] / sim_rate(row)["median"]
            rows += [["simulation", f"1M opportunities under {goal['peak_mb_at_1m']} MB peak", f"{peak:.0f} MB",
                      verdict(peak < goal["peak_mb_at_1m"])]]
            if "seconds_at_1m" in goal:   # a section measured before issue 24 has no time goal
                rows += [["simulation", f"1M opportunities within {goal['seconds_at_1m'] / 60:g} min ({sim_clock(sim)})",
                          f"{seconds / 60:.1f} min", verdict(seconds <= goal["seconds_at_1m"])]]
    e2e = ok(r, "end_to_end")
    if e2e and "first_cpu_seconds" in e2e:
        rows += [["end-to-end", f"default `python main.py`, {kind}, ≤ {e2e['targets'][kind + '_seconds']:g} s CPU",
                  ms(e2e[f"{kind}_cpu_seconds"]["median"]),
                  verdict(e2e[f"{kind}_cpu_seconds"]["median"] <= e2e["targets"][kind + "_seconds"])]
                 for kind in ("first", "rerun")]
    c = ok(r, "controls")
    if c:
        rows += [["controls", "thermostat − best held-out fixed hurdle ≥ "
                  f"{money(v['target_per_opportunity'], Per.OPPORTUNITY, 2)} ({name})", ci(v["thermostat_minus_best_fixed"]["per_opportunity"], 2, dollars=True),
                  thermostat_verdict(v)] for name, v in c["scenarios"].items() if "thermostat" in v]
    return ("Targets", ["area", "target", "measured", "verdict"], rows, []) if rows else None


def machine_table(r: dict):
    m, runtime = r["machine"], r["machine"].get("openblas_runtime") or {}
    start, end = m.get("code") or {}, m.get("code_at_end") or {}
    code = f"commit {start.get('commit') or '?'}" + (f", uncommitted changes in {', '.join(start['uncommitted_changes'])}"
                                                     if start.get("uncommitted_changes") else ", no uncommitted changes")
    before, after = start.get("fingerprints") or {}, end.get("fingerprints") or {}
    moved = sorted(f for f in set(before) | set(after) if before.get(f) != after.get(f))
    code += f"; HEAD moved to {end['commit']} during the run" if end.get("commit") not in (None, start.get("commit")) else ""
    code += f"; changed during the run: {', '.join(moved)}" if moved else ""
    rows = [["CPU", m["cpu_model"]], ["cores", f"{m['cores']} ({m['cores_usable']} usable)"],
            ["memory", f"{m['memory_gib']} GiB"], ["Python", m["python"]], ["NumPy", m["numpy"]],
            ["BLAS (build)", f"{m['blas'].get('name')} {m['blas'].get('version') or ''}".strip()],
            ["BLAS (runtime)", f"kernel {runtime.get('kernel', '?')}, {runtime.get('threads', '?')} threads"
             if runtime else "not reported by threadpoolctl"],
            ["BLAS environment", ", ".join(f"{k}={v}" for k, v in m["blas_env"].items()) or "none"],
            ["load average (1/5/15 min)", f"start {m['load_average_at_start']}, end {m.get('load_average_at_end')}"],
            ["code measured", code]]
    torch = (ok(r, "engine") or {}).get("torch")
    rows += [["PyTorch", torch.get("skipped") or f"{torch['torch']} ({torch['python']})"]] if torch else []
    return "Machine", ["what", "value"], rows, [
        f"The machine and load of the run that generated this page (`{r['meta']['command']}`); a section kept from "
        "an earlier run on another CPU says so under its table."]


def engine_table(r: dict):
    e = ok(r, "engine")
    if not e:
        return None
    spec, model = e["model"]["spec"], e["model"]
    one, default = (e["by_threads"][k] for k in sorted(e["by_threads"], key=int))

    def both(key, fmt, pick=lambda d: d):
        return [cell(pick(one[key]), fmt), cell(pick(default[key]), fmt)]

    rows = [
        ["training throughput (sample-steps/s)", *both("sample_steps_per_second", whole),
         f"batch {model['batch_size']}, per update of training.fit (with its halting-target and validation passes)"],
        ["training step", *both("training_step_seconds", ms),
         f"fit's inner loop on a full batch of {model['batch_size']}: forward T cycles, both losses, backward the "
         "last, clip, AdamW, EMA"],
        *([["training step, CPU time", *both("training_step_seconds", ms, lambda d: d["cpu"]),
            f"the process's own; the matmuls alone: {cell(one['matmul_only_seconds']['cpu'], ms)} CPU, "
            f"{pct(one['cpu_fraction_of_matmul_rate'], 0)} of the step (1 thread)"]]
          if "cpu_fraction_of_matmul_rate" in one else []),
        ["achieved GFLOP/s (step)", *both("step_gflops", lambda x: num(x, 1)),
         f"{e['flops_per_step'] / 1e6:,.1f} M matmul FLOPs per step, counted from the spec "
         "(= traced: test/test_bench_flops.py)"],
        ["numpy matmul GFLOP/s, same shapes", *both("matmul_gflops", lambda x: num(x, 1)), "the step's matmuls alone"],
        ["step rate / matmul rate", *(pct(x, 0) if steady else f"({pct(x, 0)}) ⚠ unreliable"
                                      for x, steady in (fraction(one), fraction(default))), "target ≥ 50 %"],
        ["inference, 3 candidates", *both("inference", ms, lambda d: d["3"]["seconds"]),
         f"cap {model['supervision_steps']}, threshold {model['halt_threshold']}, "
         f"mean steps {one['inference']['3']['mean_steps']:.2f}"],
        ["inference, 600 candidates", *both("inference", ms, lambda d: d["600"]["seconds"]),
         f"mean steps {one['inference']['600']['mean_steps']:.2f}"],
        [f"inference, 600 candidates, all {model['supervision_steps']} steps", *both("inference_600_full_depth_seconds", ms),
         f"{ms(one['inference_600_full_depth_seconds']['median'] / model['supervision_steps'])} per step (1 thread)"],
    ]
    t = e.get("torch") or {}
    if "threads_1" in t:
        one_t, two_t = t["threads_1"], t["threads_2"]
        rows += [["PyTorch training step", cell(one_t["torch_step_seconds"], ms), cell(two_t["torch_step_seconds"], ms),
                  f"torch {t['torch']}, same shapes (max logit difference {t['parity_max_abs_logit_diff']:.1e}); "
                  f"fresh processes with {one_t['torch_threads']} and {two_t['torch_threads']} threads"],
                 ["NumPy training step (same rounds)", cell(one_t["numpy_step_seconds"], ms),
                  cell(two_t["numpy_step_seconds"], ms), "fresh processes, alternating with torch"],
                 ["time ratio NumPy / PyTorch", *(f"{x['ratio_numpy_over_torch']:.2f} (NumPy "
                                                  f"{1 / x['ratio_numpy_over_torch']:.2f}× as fast)" for x in (one_t, two_t)),
                  "target ≤ 0.5 (≥ 2× faster)"]]
        rows += [["CPU time ratio NumPy / PyTorch", *(f"{x['cpu_ratio_numpy_over_torch']:.2f} (NumPy {ms(x['numpy_step_cpu_seconds']['median'])}, "
                                                      f"PyTorch {ms(x['torch_step_cpu_seconds']['median'])})" for x in (one_t, two_t)),
                  "each process's CPU time (all its threads)"]] if "cpu_ratio_numpy_over_torch" in one_t else []
    else:
        rows.append(["PyTorch CPU eager", "-", "-", t.get("skipped", "torch not installed: skipped")])
    notes = [f"Model: D={spec['hidden_size']}, expansion {spec['expansion']}, n={spec['n_cycles']}, "
             f"T={spec['outer_steps']}, {spec['activation']}, {model['parameters']:,} parameters; inference "
             "uses the shipped checkpoint. Cells: median (fastest – slowest) over the repeats; ⚠ marks a figure "
             f"whose repeats differ more than {UNSTABLE:.0f}×, typically a second BLAS thread waiting for a core "
             "that another process holds."]
    return ("Engine (default model size)",
            ["measure", *(f"{d['blas_threads']} BLAS thread{'s' if d['blas_threads'] != 1 else ''}, {d['where']}"
                          for d in (one, default)), "note"], rows, notes)


def phases_table(r: dict):
    e = ok(r, "engine")
    if not e:
        return None
    total = sum(p["median"] for p in e["phases_seconds"].values())
    rows = [[name, ms(p["median"]), pct(p["median"] / total, 0)] for name, p in e["phases_seconds"].items()]
    return ("Training step by phase (fit's inner loop, timed by hand, 1 BLAS thread)",
            ["phase", "median per step", "share"], rows + [["sum", ms(total), "100%"]], [])


HISTORICAL_SPEEDUPS = (
    "Historical, measured on 2026-11-26 by the since-removed bench/speedups.py and already applied to the engine: "
    "clip+AdamW+EMA over one flat buffer saved 147 µs per step, out= buffers in swiglu and rms_norm about 137 µs, "
    "pre*pre*pre instead of pre**3 17.8 ms (gelu only). Environment, same date: 2 BLAS threads made a step 1.13× "
    "and a 600-candidate inference 1.22× faster on an idle machine but a step 2.03× slower next to one busy "
    "process; OPENBLAS_CORETYPE unset (kernel SkylakeX instead of the pinned Haswell) 1.21× faster.")


def profile_table(r: dict):
    e = ok(r, "engine")
    if not e or "profile" not in e:
        return None
    p, one = e["profile"], e["by_threads"]["1"]
    groups = {g: s for g, s in p["groups_seconds"].items() if not g.startswith("the rest")}
    rows = [[group, ms(seconds), pct(seconds / sum(groups.values()), 0)] for group, seconds in groups.items()]
    rows += [[f"  {op['op']}", ms(op["seconds"]), f"{op['calls']:.0f} calls"] for op in p["top_ops"][:8]]
    matmuls = one["matmul_only_seconds"]["median"]
    notes = [f"One BLAS thread; {p['numpy_calls_per_step']:.0f} numpy calls per training step; "
             f"untraced step {ms(p['step_seconds'])}. Shares are of the time measured inside numpy ops "
             "(the tracer inflates small ops a little).",
             f"Independently: the step's matmuls alone ({ms(matmuls)}) take "
             f"{matmuls / one['training_step_seconds']['median']:.0%} of an untraced step.", HISTORICAL_SPEEDUPS]
    return "Where a training step's time goes (op trace)", ["group / top ops", "time per step", "share"], rows, notes


def ablation_table(r: dict):
    a = ok(r, "ablation")
    if not a:
        return None
    s, rows = a["settings"], []
    for row in a["rows"]:
        e = row["excess_log_loss"]
        rows.append([row["model"], num(row["parameters"], 0) if row.get("parameters") else "",
                     ci(row["log_loss"], 4), ci(e, 4), f"{e['low']:.4f} – {e['high']:.4f}",
                     f"{row['optimizer_steps']:,} ({row['steps_at_selected']:,.0f} at the kept epoch)"
                     if "optimizer_steps" in row else "",
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
                 "Excess log-loss = KL(true p || model p): 0 only for the true probability, which also depends on "
                 "the replies; the structured-only row is the floor for every model here.")
    return ("Ablation: TRM vs a plain MLP of the same size, same data, selection and optimiser steps",
            ["model", "parameters", "held-out log-loss", "excess log-loss", "excess, seed range",
             "optimiser steps", "train time", "selected per seed"], rows, notes)


def halting_table(r: dict):
    a = ok(r, "ablation")
    if not a:
        return None

    def versus(h, other, key, difference):
        return better_by({"a": "the halting head", "b": other, "a_mean": h["halting_head"]["mean"],
                          "b_mean": h[key]["mean"], "difference": h[difference]})
    rows = [[f"{h['halt_threshold']:g}", ci(h["mean_steps"], 2), ci(h["halting_head"], 4), ci(h["random_stopping"], 4),
             f"{ci(h['fixed_cap'], 4)} (cap {', '.join(map(str, h['fixed_caps']))})",
             versus(h, "random stopping", "random_stopping", "head_minus_random") + "; "
             + versus(h, "the fixed cap", "fixed_cap", "head_minus_fixed")]
            for h in a["halting"]]
    notes = [f"TRM T={a['settings']['outer_steps']} of the ablation above, read to full depth once on the held-out "
             "pairs: the halting head stops each pair at the first step with sigmoid(q) ≥ threshold; random stopping "
             "gives the same steps shuffled across pairs (same mean depth, no knowledge of the pair); the fixed cap is "
             "the one nearest the head's mean steps (per seed). Cells: held-out excess log-loss, mean ± 95 % t "
             "interval over seeds."]
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
    if abs(d["mean"]) <= d["half_width"]:
        return (f"{c['a']} vs {c['b']}: no significant difference ({c['a_mean']:.4f} vs {c['b_mean']:.4f}; "
                f"difference {d['mean']:+.4f} ± {d['half_width']:.4f} over {d['n']} seeds)")
    return (f"{a} is better than {b} by {abs(d['mean']):.4f} ± {d['half_width']:.4f} excess log-loss ({how_much}), "
            f"paired over {d['n']} seeds")


def fine_tune_table(r: dict):
    from bench.fine_tune_bench import table
    f = ok(r, "fine_tune")
    if not f:
        return None
    headers, rows = table(f)
    return (f"Fine-tuning: epochs and learning rate (held-out seeds {f['seeds'][0]}-{f['seeds'][1]})", headers, rows,
            ["Each setting runs the default pipeline per seed (fine-tuning, the validation split's epoch and step "
             "cap, the funnel); '− reference' is paired by seed; ± is a 95 % t interval over the seeds. Expected "
             "net value in $ per opportunity. The shipped default is training.epochs in config/default_config.yaml."])


def sim_rate(row: dict) -> dict:
    """A simulation row's rate the goal is judged on: per CPU second where measured (a shared machine's wall
    clock waits for its neighbours), else per wall second (sections measured before it was)."""
    return row.get("opportunities_per_cpu_second") or row["opportunities_per_second"]


def sim_clock(sim: dict) -> str:
    return "CPU time" if "opportunities_per_cpu_second" in sim["rows"][0] else "wall time"


def simulation_table(r: dict):
    sim = ok(r, "simulation")
    if not sim:
        return None
    target_rate, target_mb = sim["targets"]["opportunities_per_second"], sim["targets"]["peak_mb_at_1m"]
    rows = [[f"{row['opportunities']:,}", str(row["chunk"]), whole(sim_rate(row)["median"]),
             span(sim_rate(row), whole), whole(row["opportunities_per_second"]["median"]),
             f"{row['peak_rss_mb']:.0f} MB", f"{row['telemetry_mb']:.0f} MB",
             verdict(sim_rate(row)["median"] >= target_rate)
             + (f"; < {target_mb} MB: {verdict(row['peak_rss_mb'] < target_mb)}" if row["opportunities"] >= 1_000_000
                else "")]
            for row in sim["rows"]]
    notes = [sim["budget_note"] + ".", "Peak memory = maxrss of a fresh process (imports and checkpoint included: "
             f"~{sim['rows'][0]['rss_before_run_mb']:.0f} MB before the run starts). 1M runs once, at chunk 1000."]
    return ("Simulation (run_funnel, pretrained checkpoint, telemetry on)",
            ["opportunities", "chunk", f"opportunities/s ({sim_clock(sim)})", "range", "opportunities/s (wall)",
             "peak memory", "telemetry file", f"≥ {target_rate:,}/s"], rows, notes)


def what_if_table(r: dict):
    sim = ok(r, "simulation")
    if not sim or not sim.get("what_ifs"):
        return None
    rows = [[name, whole(v["opportunities_per_second"]["median"]), span(v["opportunities_per_second"], whole),
             f"{v['peak_rss_mb']:.0f} MB", f"{v.get('speedup', 1.0):.2f}×"] for name, v in sim["what_ifs"].items()]
    size = next(iter(sim["what_ifs"].values()))
    notes = [f"{size['opportunities']:,} opportunities at chunk {size['chunk']}; the engine is unchanged, "
             "the what-ifs change the simulation process's environment or switch its telemetry off. "
             "A row near 1.00× brings nothing more on this code (for example because the code already does it)."]
    return "Simulation what-ifs", ["variant", "opportunities/s", "range", "peak memory", "speed-up"], rows, notes


def end_to_end_table(r: dict):
    e = ok(r, "end_to_end")
    if not e or "first_cpu_seconds" not in e:   # a section measured before the first run / rerun split
        return e and ("End-to-end", ["command", "median wall time", "range"],
                      [[e["command"], ms(e["seconds"]["median"]), span(e["seconds"])]], [])
    goals = e["targets"]
    rows = [[f"{e['command']}: {kind}", cell(e[f"{kind}_wall_seconds"], ms), cell(e[f"{kind}_cpu_seconds"], ms),
             f"≤ {goals[kind + '_seconds']:g} s: {verdict(e[kind + '_cpu_seconds']['median'] <= goals[kind + '_seconds'])}"]
            for kind in ("first", "rerun")]
    if "rerun_no_bytecode_cpu_seconds" in e:
        rows.append([f"{e['command']}: rerun, PYTHONDONTWRITEBYTECODE=1", cell(e["rerun_no_bytecode_wall_seconds"], ms),
                     cell(e["rerun_no_bytecode_cpu_seconds"], ms), "(the cost of compiling the sources every run)"])
    return ("End-to-end", ["command", "wall", "CPU (user + sys)", "goal (issue 24, CPU)"], rows,
            ["first: a fresh directory, so fine-tuning runs; rerun: the same inputs again in that directory, so the "
             "memo (.trm_demo_cache/) serves the fine-tuned weights, the history's fits and the break-even map. "
             "Byte-code as a user's Python keeps it (written once to __pycache__); the last row without it. CPU time "
             "is the command's own; wall time waits for other work on a shared machine."])


def readme_table(r: dict):
    e = ok(r, "readme")
    if not e:
        return None
    on = measured_on(r, "readme")
    return ("README times", ["command", "wall", "CPU (user + sys)"],
            [[f"`{name}`", f"{t['wall_seconds']:.1f} s", f"{t['cpu_seconds']:.1f} s"] for name, t in e["rows"].items()],
            [f"One fresh process each on {on['cpu'] or 'a CPU not recorded'}, "
             + (f"{on['cores_usable']} usable cores, " if on["cores_usable"] else "")
             + (f"load average {on['load_average']} at the start" if on["load_average"] else "load average not recorded")
             + ": the README quotes these rows. On a shared machine wall time waits for other work; CPU time is the "
             "command's own."])


def measured_on(r: dict, name: str) -> dict:
    """The CPU, usable cores and load average (at its start) of the run that measured section `name`, from its own
    stamp: a section kept from an earlier run was not measured on the page's Machine table. The Machine table's
    figures stand in for what an older stamp lacks only when this page's run measured the section; None: not
    recorded."""
    stamp, m, meta = r[name].get("measured_by", {}), r.get("machine", {}), r.get("meta", {})
    this_run = (stamp.get("command"), stamp.get("started_at")) == (meta.get("command"), meta.get("started_at"))
    return {"cpu": stamp.get("cpu") or (m.get("cpu_model") if this_run else None),
            "cores_usable": stamp.get("cores_usable") or (m.get("cores_usable") if this_run else None),
            "load_average": stamp.get("load_average") or (m.get("load_average_at_start") if this_run else None),
            "stamp": stamp}


def elsewhere_note(r: dict, name: str) -> list[str]:
    """A line under a section's table when it was measured on another CPU than the Machine table's (or one its
    stamp does not name): its figures are that machine's."""
    on, here = measured_on(r, name), r.get("machine", {}).get("cpu_model")
    if name not in r or on["cpu"] == here:
        return []
    s = on["stamp"]
    return [f"Measured on {on['cpu'] or 'a CPU its stamp does not name'}, not the Machine table's {here}: by "
            f"`{s.get('command', '?')}` on {s.get('started_at', '?').replace('T', ' ')}"
            + (f" (commit {s['commit']})" if "commit" in s else "")
            + (f", load average {on['load_average']} at its start" if on["load_average"] else "") + "."]


def reading_table(r: dict):
    m = ok(r, "market")
    if not m:
        return None
    reading = m["reading"]
    rows = [[name, pct(share), pct(reading["share_of_perfect_gain"][name])]
            for name, share in reading["share_of_oracle_expected"].items()]
    constructions = "; ".join(f"{name} {pct(c['llm_share_of_perfect_gain'])} (read right {pct(c['llm_read_right'])})"
                              for name, c in reading["by_construction"].items()
                              if c["llm_share_of_perfect_gain"] is not None)
    notes = [f"{reading['opportunities']:,} opportunities × {reading['candidates']} candidates; expected net value "
             "before any reading cost, as a share of the oracle's and of what a perfect reading adds over the "
             f"structured fields. The keyword reader is fitted on {reading['history_replies']:,} labelled replies "
             "of the history (trm_demo/funnel/keyword.py).",
             f"The simulated LLM's share of the perfect gain where only the facts stated through one construction are "
             f"read: {constructions}."]
    return ("What reading the reply is worth", ["decided with", "share of oracle (expected)", "share of perfect gain"],
            rows, notes)


def quality_table(r: dict):
    m = ok(r, "market")
    if not m:
        return None
    d, seeds = m["default"], m["seed_list"]
    rows = [[strategy(key).name, ci(s["expected_net_value"], 0, dollars=True), ci(s["net_value"], 0, dollars=True),
             ci(s["share_of_oracle_expected"], 1, 100, " %"), ci(s["llm_reads"], 0)]
            for key in KEYS if key in d["strategies"] for s in [d["strategies"][key]]]
    for pair, diff in d["paired"].items():
        rows.append([f"{pair_name(pair)} (paired)", ci(diff, 0, dollars=True), "", "",
                     "one seed: no interval" if diff["half_width"] is None else "no significant difference"
                     if abs(diff["mean"]) <= diff["half_width"] else "interval excludes 0"])
    rows += [[f"{control}: the run minus a replay without it", ci(diff, 0, dollars=True), "", "", ""]
             for control, diff in d["counterfactuals"].items()]
    t = f" (t = {t95(len(seeds) - 1):.3f})" if len(seeds) > 1 else ""
    notes = [f"Default run (200 opportunities), seeds {seeds[0]}..{seeds[-1]}: mean ± 95 % t interval over "
             f"{len(seeds)} seeds{t}. Paired differences and controls are per seed "
             f"(common random numbers; each control replays the same opportunities without it). "
             f"Fine-tuning runs once per seed; {m['wall_seconds']:.0f} s."]
    if "cascade3-cascade" in d["paired"]:
        notes.append(three_tier_note(d))
    return ("Multi-seed quality", ["strategy", "expected net value", "realised net value", "share of oracle (expected)",
                                   "LLM reads"], rows, notes)


def three_tier_note(d: dict) -> str:
    """Issue 25's target for the three-tier cascade: at least the cascade + 1 % of the oracle's expected net value,
    with fewer LLM reads."""
    s, gain = d["strategies"], d["paired"]["cascade3-cascade"]
    target = 0.01 * s["oracle"]["expected_net_value"]["mean"]
    reads = {key: s[key]["llm_reads"]["mean"] for key in ("cascade3", "cascade")}
    return (f"The reading TRM's tier (reading_trm.enabled, the checkpoint as shipped): the three-tier cascade minus "
            f"the cascade {ci(gain, 0, dollars=True)} per run against a target of +{money(target, Per.CELL, 0)} (1 % "
            f"of the oracle's expected net value): {verdict(gain['mean'] >= target)}; LLM reads {reads['cascade3']:.0f} "
            f"against {reads['cascade']:.0f} per run ({verdict(reads['cascade3'] < reads['cascade'])} for fewer). The "
            f"reading TRM with the TRM minus the keyword reader: {ci(d['paired']['trm_reader-keyword'], 0, dollars=True)} "
            "per run." + (bag_of_words_note(d) if "trm_reader-bow_reader" in d["paired"] else ""))


def bag_of_words_note(d: dict) -> str:
    """The reading TRM against its rival of the same data and size class (issue 25), and that rival against the
    cascade: paired per seed."""
    per_seed = d["per_seed_expected_net_value"]
    versus_cascade = mean_ci([b - c for b, c in zip(per_seed["bow_reader"], per_seed["cascade"])])
    share = d["strategies"]["bow_reader"]["share_of_oracle_expected"]
    return (f" The reading TRM minus the bag-of-words reader fitted on the same replies (`bow_reader`, no LLM): "
            f"{ci(d['paired']['trm_reader-bow_reader'], 0, dollars=True)} per run; the bag-of-words reader minus the "
            f"cascade {ci(versus_cascade, 0, dollars=True)} per run, at {ci(share, 1, 100, ' %')} of the oracle.")


def readers_table(r: dict):
    m = ok(r, "readers")
    if not m:
        return None
    seeds = m["seed_list"]
    rows = [[name, ci(v["cascade_minus_trm"], 0, dollars=True), ci(v["cascade_minus_keyword"], 0, dollars=True),
             ci(v["cascade_minus_default_reader"], 0, dollars=True), ci(v["cascade_share_of_oracle"], 1, 100, " %"),
             ci(v["reads"], 0)] for name, v in m["readers"].items()]
    d = m["deferral"]
    at = list(d["voi"])
    orders = {"voi": "VOI", "top_k": "each job's top k by the base (the router's order)", "random": "random",
              "oracle": "hindsight (each read's true gain)"}
    curve = "; ".join(f"{label} " + ", ".join(f"{ci(d[o][x], 1, 100, ' %')} at {pct(float(x), 0)}" for x in at)
                      for o, label in orders.items() if o in d)
    gaps = ", ".join(f"{ci(d['voi_minus_top_k'][x], 2, 100)} at {pct(float(x), 0)}" for x in at)
    behind = ", ".join(f"{ci(d['oracle_minus_voi'][x], 2, 100)} at {pct(float(x), 0)}" for x in at)
    notes = [f"Default run (200 opportunities, the default events), seeds {seeds[0]}..{seeds[-1]}: per seed every "
             "reader decides the same opportunities with the same random numbers (one fine-tuning per seed); paired "
             f"differences per run, mean ± 95 % t interval over {len(seeds)} seeds. Readers: `simulation.llm_noise` "
             "and `simulation.llm_bias` on the simulated LLM's reading of the text; \"no signal\" reads noise "
             "independent of reply, fields and truth; \"blank replies\" is `world.replies: blank` (every reply "
             "empty). The cascade fits the reader's bias and noise on outcomes (funnel/calibration.py). Issue 21's "
             "targets: bias −1 loses ≤ $150 per run against the default reader; noise 1.5 and no signal: cascade ≥ "
             "TRM alone within the interval; blank replies: cascade − TRM zero within its interval.",
             f"Deferral curve (the first 500 opportunities of each seed, steady market, no budget; expected net value "
             f"before LLM cost as a share of the oracle's, at equal shares of candidates read): {curve}. VOI − top k: "
             f"{gaps} points; hindsight − VOI: {behind} points."]
    return ("Reader sweep: the cascade with good, bad and useless readers", [
        "reader", "cascade − TRM alone, per run", "cascade − keyword reader, per run",
        "cascade − cascade with the default reader, per run", "cascade, share of oracle (expected)", "cascade reads"],
        rows, notes)


def _seeds(c: dict) -> str:
    choosing, evaluating = c["choosing_seeds"], c["evaluation_seeds"]
    return (f"the best fixed setting chosen on held-out seeds {choosing[0]}–{choosing[-1]}, evaluated on seeds "
            f"{evaluating[0]}–{evaluating[-1]} (paired, mean ± 95 % t interval over {len(evaluating)} seeds)")


def thermostat_table(r: dict):
    c = ok(r, "controls")
    if not c:
        return None
    rows = [[name, f"{num(v['best_fixed_hurdle'])} ({num(v['hindsight_best_hurdle'])})",
             ci(v["thermostat"], 0, dollars=True), ci(v["thermostat_minus_best_fixed"]["per_run"], 0, dollars=True),
             ci(v["thermostat_minus_best_fixed"]["per_opportunity"], 2, dollars=True),
             ci(v["thermostat_minus_floor"]["per_run"], 0, dollars=True), thermostat_verdict(v)]
            for name, v in c["scenarios"].items() if "thermostat" in v]
    notes = [f"The cascade's expected net value with the thermostat minus with the hurdle fixed at {_seeds(c)}, "
             f"per scenario (the fixed policy knows the shock: a strong rival). Grid: "
             f"{', '.join(num(h) for h in c['fixed_hurdle_grid'])}; in brackets the best on the evaluation seeds "
             f"(hindsight). The floor is `thermostat.min_hurdle` ({num(c['thermostat_floor'])}), the best fixed hurdle "
             "on the steady market, lowered in proportion (never below 1) where the latest readings' gaps to the base "
             "belief are wider than on a steady market (`thermostat.surprise_window`, `steady_surprise`: a drift); "
             "`thermostat.replay_hurdle`, the hurdle the run's own replay holds, is the best on "
             "the default events. Target (issue 21): ≥ $0 per opportunity under shocks, ≥ −$0.10 on a steady market."]
    missed = [f"{name}: {ci(v['thermostat_minus_best_fixed']['per_opportunity'], 2, dollars=True)} per opportunity "
              f"against a fixed hurdle of {num(v['best_fixed_hurdle'])}"
              + (", the fixed hurdle below its floor reads more and makes more" if v["best_fixed_hurdle"]
                 < c["thermostat_floor"] else "")
              + ("; it held its floor (thermostat − floor $0 ± 0): the budget never bound, nothing to pace"
                 if v["thermostat_minus_floor"]["per_run"]["mean"] == 0 else "")
              for name, v in c["scenarios"].items() if "thermostat" in v and thermostat_verdict(v) == "MISS"]
    notes += [f"Missed, said plainly: the thermostat does not beat the best held-out fixed hurdle under "
              f"{'; '.join(missed)}."] if missed else []
    return ("The thermostat against the best fixed hurdle", [
        "scenario", "best fixed hurdle, held out (hindsight)", "thermostat: expected net value per run",
        "thermostat − best fixed, per run", "per opportunity", "thermostat − its floor, per run", "target"],
        rows, notes)


def floor_knobs_table(r: dict):
    c = ok(r, "controls")
    if not c or "floor_knobs" not in c:
        return None
    choice = c["floor_knobs"]
    rows = [[knobs + (" (chosen)" if knobs == choice["chosen"] else "")]
            + [ci(v, 0, dollars=True) for v in per.values()] for knobs, per in choice["per_run_minus_best_fixed"].items()]
    seeds = c["choosing_seeds"]
    notes = [f"The thermostat with each pair of the floor's knobs minus the best fixed hurdle, on the held-out seeds "
             f"{seeds[0]}–{seeds[-1]} only (they choose; the table above evaluates on others): the floor falls in "
             "proportion where the latest `surprise_window` readings' squared standardised gaps to the base belief "
             "average more than `steady_surprise`. Chosen: the highest sum over these scenarios. "
             + ("The config holds the chosen pair." if choice["chosen"] == c["configured_floor_knobs"] else
                f"The config holds {c['configured_floor_knobs']}, not the chosen pair: update it.")]
    names = list(next(iter(choice["per_run_minus_best_fixed"].values())))
    return ("The thermostat's floor: its knobs chosen on held-out seeds",
            ["knobs"] + [f"{name}: thermostat − best fixed, per run" for name in names], rows, notes)


def limits_table(r: dict):
    c = ok(r, "controls")
    if not c:
        return None
    rows = [[name, control.replace("_", " "), v["best_fixed"], ci(v["on_minus_off"]["per_run"], 0, dollars=True),
             ci(v["on_minus_off"]["per_opportunity"], 2, dollars=True), ci(v["llm_cost_delta"], 0, dollars=True)]
            for name, s in c["scenarios"].items() for control, v in s["limits"].items()]
    notes = [f"Each limit on minus off on the same opportunities ({_seeds(c)}): the sentinel is the breaker and the "
             "TRM guard; the latency limit caps the LLM rounds a decision waits for; the budget caps LLM spend. "
             "Where on − off is below zero on the steady market and the held-out choice is off, the control is "
             "insurance: its premium is the steady row, its payout the row of the shock it is for (the outage for "
             "the breaker and the latency limit; any shock that raises spend for the budget). Timed-out calls are "
             "billed and waited for (sentinel.latency_cost_per_s prices each second waited on the LLM; the rows "
             "\"waiting at $1/s\" price it high), so the breaker's payout includes the calls it does not make."]
    steady, shocks = c["scenarios"]["steady"]["limits"], {"sentinel": "LLM outage 130-154",
                                                           "latency_limit": "LLM outage 130-154",
                                                           "budget": "price rise x2.5 at 80"}
    notes += [f"{control.replace('_', ' ')}: on a steady market {ci(steady[control]['on_minus_off']['per_run'], 0, dollars=True)}"
              f" per run (the premium); under {shock} "
              f"{ci(c['scenarios'][shock]['limits'][control]['on_minus_off']['per_run'], 0, dollars=True)} (the payout)."
              for control, shock in shocks.items() if shock in c["scenarios"]]
    return ("The sentinel, the latency limit and the budget against their best fixed setting", [
        "scenario", "control", "best fixed, held out", "on − off, per run", "per opportunity", "LLM spend, on − off"],
        rows, notes)


# Each table with the section whose stamp says where it was measured (None: it reads several, the run itself, or
# names its machine itself).
TABLES = ((None, targets_table), (None, machine_table), ("engine", engine_table), ("engine", phases_table),
          ("engine", profile_table), ("ablation", ablation_table), ("ablation", halting_table),
          ("fine_tune", fine_tune_table), ("simulation", simulation_table), ("simulation", what_if_table),
          ("end_to_end", end_to_end_table), ("market", reading_table), ("market", quality_table),
          ("readers", readers_table), ("controls", thermostat_table), ("controls", floor_knobs_table),
          ("controls", limits_table), (None, readme_table))


def markdown(results: dict) -> str:
    meta = results["meta"]
    took = meta["total_seconds"]
    lines = ["# Benchmarks", "", "<!-- Generated by the benchmark command; do not edit by hand: rerun it. -->",
             f"Generated by `{meta['command']}` on {meta['started_at'].replace('T', ' ')} "
             f"(took {f'{took:.0f} s' if took < 120 else f'{took / 60:.1f} min'}). Do not edit this page: rerun the "
             "command. Raw figures: `bench/results.json`.", ""]
    stamps = {name: s["measured_by"] for name, s in results.items() if isinstance(s, dict) and "measured_by" in s}
    earlier = [f"{name} by `{s['command']}` on {s['started_at'].replace('T', ' ')}"
               + (f" (commit {s['commit']}, {s['cpu']})" if "commit" in s else "") for name, s in stamps.items()
               if (s["command"], s["started_at"]) != (meta["command"], meta["started_at"])]
    lines += [f"Sections kept from earlier runs: {'; '.join(earlier)}.", ""] if earlier else []
    lines += ["Every timing is the median of several repeats, shown with the fastest–slowest range. "
              "The machine may be shared (see the load averages): a wide range means a noisy figure.", ""]
    drawn = ((name, table(results)) for name, table in TABLES)
    for name, (title, headers, rows, notes) in ((name, t) for name, t in drawn if t):
        notes = notes + (elsewhere_note(results, name) if name else [])
        lines += [f"## {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        lines += [""] + notes + ([""] if notes else [])
    errors = [f"- {name}: {v['error']}" for name, v in results.items() if isinstance(v, dict) and "error" in v]
    return "\n".join(lines + (["## Sections that failed", ""] + errors + [""] if errors else []))

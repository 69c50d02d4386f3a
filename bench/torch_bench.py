"""The same TRM in PyTorch CPU eager, for a time ratio per training step.

torch is never a dependency: this file runs in separate processes (`python -m bench.torch_bench`, with the bench's
interpreter or `python -m bench --torch-python PATH`) and reports "skipped" when `import torch` fails. Same
architecture, shapes and recipe as the engine (embedding, 2 post-norm SwiGLU blocks, n + 1 net calls per cycle,
gradient through the last of T cycles, both heads and losses, clipping, AdamW with decay on matrices, EMA),
starting from the numpy model's weights; the first step's logits are compared, so both compute the same function.
Each library is timed in its own fresh process started with its thread count (1 or 2): torch's OpenMP threads
keep spinning after a step and would slow OpenBLAS's in a shared process, and OpenBLAS runs slowly when its
count is raised at run time. The libraries alternate round by round, so that load on the machine hits both alike.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from bench.measure import run_python, spread


def build_torch_step(torch, model, cfg):
    """A closure running one training step on (x, target), carrying (y, z) like fit."""
    functional = torch.nn.functional
    spec, t = model.spec, cfg.training
    params = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in model.params.items()}
    ema = {k: v.detach().clone() for k, v in params.items()}
    decay = [p for p in params.values() if p.ndim >= 2]
    no_decay = [p for p in params.values() if p.ndim < 2]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": t.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=t.learning_rate, betas=(t.beta1, t.beta2), eps=1e-8)
    sublayers = [name for name, _ in spec.sublayers()]

    def net(h):
        for name in sublayers:
            gate, up = (h @ params[name + ".w_in"]).chunk(2, dim=-1)
            mixed = (functional.silu(gate) * up) @ params[name + ".w_out"]
            h = functional.rms_norm(h + mixed, (spec.hidden_size,), params[name + ".norm"], eps=1e-6)
        return h

    def cycle(x, y, z):
        for _ in range(spec.n_cycles):
            z = net(x + y + z)
        return net(y + z), z

    def forward(x, y, z):
        x = x @ params["embed.w"] + params["embed.b"]
        with torch.no_grad():
            for _ in range(spec.outer_steps - 1):
                y, z = cycle(x, y, z)
        y, z = cycle(x, y, z)
        logits = (y @ params["head.w"] + params["head.b"])[:, 0]
        halt = (y.detach() @ params["halt.w"] + params["halt.b"])[:, 0]
        return y, z, logits, halt

    def step(x, target, y, z):
        y, z, logits, halt = forward(x, y, z)
        correct = ((logits >= 0) == (target > 0.5)).to(logits.dtype)
        loss = (functional.binary_cross_entropy_with_logits(logits, target)
                + t.halting_weight * functional.binary_cross_entropy_with_logits(halt, correct))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), t.grad_clip)
        optimiser.step()
        with torch.no_grad():
            for name, p in params.items():
                ema[name].mul_(t.ema_decay).add_(p, alpha=1 - t.ema_decay)
        return y.detach(), z.detach()

    return step, forward


def measure(library: str, repeats: int, steps_per_repeat: int) -> dict:
    """Seconds per training step of one library, with the threads this process started with."""
    from trm_demo.trm.engine import initial_state, supervision_step
    from bench.engine_bench import default_setup, fresh_model, numpy_step, training_batch
    from bench.measure import blas_threads
    cfg, spec = default_setup()
    batch = cfg.training.batch_size
    x, target = training_batch(cfg, batch)
    model = fresh_model(spec)
    y0, z0 = initial_state(model.buffers, spec, batch)
    out = {}
    if library == "torch":
        import torch
        step, forward = build_torch_step(torch, model, cfg)
        # Parity: the first supervision step gives the same logits as the engine.
        _, _, np_logits, np_halt, _ = supervision_step(model.params, spec, x, y0.copy(), z0.copy())
        with torch.no_grad():
            _, _, logits, halt = forward(torch.from_numpy(x), torch.from_numpy(y0), torch.from_numpy(z0))
        out["parity_max_abs_logit_diff"] = float(max(np.abs(np_logits - logits.numpy()).max(),
                                                     np.abs(np_halt - halt.numpy()).max()))
        out["torch"], out["threads"] = torch.__version__, torch.get_num_threads()
        x, target, y0, z0 = (torch.from_numpy(a) for a in (x, target, y0, z0))
        fresh = lambda a: a.clone()
    else:
        out["threads"] = blas_threads()
        step = numpy_step(model.params, model.ema, spec, cfg.training)
        fresh = lambda a: a.copy()
    samples, cpu = [], []
    for repeat in range(repeats + 1):              # the first repeat warms up
        started, started_cpu = time.perf_counter(), time.process_time()
        y, z = fresh(y0), fresh(z0)
        for _ in range(steps_per_repeat):
            y, z = step(x, target, y, z)
        if repeat:
            samples.append((time.perf_counter() - started) / steps_per_repeat)
            cpu.append((time.process_time() - started_cpu) / steps_per_repeat)
    return {**out, "step_seconds": samples, "step_cpu_seconds": cpu}


def main(argv: list[str]) -> int:
    """python -m bench.torch_bench {numpy,torch} REPEATS: one JSON line on stdout."""
    library, repeats = argv[0], int(argv[1])
    if library == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            print(json.dumps({"skipped": "torch not installed: skipped"}))
            return 0
    print(json.dumps(measure(library, repeats, 12)))
    return 0


# --- the orchestrating side: alternate fresh processes, numpy then torch ---

THREAD_VARS = {"numpy": ("OPENBLAS_NUM_THREADS",), "torch": ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def run(python: str, rounds: int, repeats: int) -> dict:
    """NumPy/PyTorch time ratio per training step with 1 and with 2 threads each, median over rounds.

    Each process starts with its thread count in the environment (importing
    trm_demo keeps a count that is already set), so nothing is switched at run time."""
    def worker(library, threads):
        done = run_python(["-m", "bench.torch_bench", library, str(repeats)],
                          {var: str(threads) for var in THREAD_VARS[library]}, python)
        if done.returncode != 0:
            return {"skipped": f"torch run failed: {' '.join(done.stderr.strip().splitlines()[-1:])}"}
        return json.loads(done.stdout)

    runs = {(lib, n): [] for lib in ("numpy", "torch") for n in (1, 2)}
    for _ in range(rounds):
        for threads in (1, 2):
            for library in ("numpy", "torch"):
                found = worker(library, threads)
                if "skipped" in found:
                    return {"skipped": found["skipped"], "python": python}
                runs[(library, threads)].append(found)
    first_torch = runs[("torch", 1)][0]
    result = {"torch": first_torch["torch"], "python": python,
              "parity_max_abs_logit_diff": first_torch["parity_max_abs_logit_diff"]}
    for threads in (1, 2):
        numpy_t, torch_t, numpy_cpu, torch_cpu = (
            spread([spread(r[key])["median"] for r in runs[(lib, threads)]])
            for key in ("step_seconds", "step_cpu_seconds") for lib in ("numpy", "torch"))
        result[f"threads_{threads}"] = {
            "numpy_step_seconds": numpy_t, "torch_step_seconds": torch_t,
            "ratio_numpy_over_torch": numpy_t["median"] / torch_t["median"],
            # CPU time of the process (all its threads): on a shared machine, what each library itself spent
            "numpy_step_cpu_seconds": numpy_cpu, "torch_step_cpu_seconds": torch_cpu,
            "cpu_ratio_numpy_over_torch": numpy_cpu["median"] / torch_cpu["median"],
            "numpy_threads": runs[("numpy", threads)][0]["threads"], "torch_threads": runs[("torch", threads)][0]["threads"]}
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

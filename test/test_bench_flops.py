"""The benchmark's FLOP rate divides by an analytic count of a training step's matmuls (bench/engine_bench.py);
that count must equal the matmuls the engine really performs, traced op by op (engine_bench.trace_training_steps)."""

from __future__ import annotations

from bench.engine_bench import default_setup, step_flops, trace_training_steps


def test_analytic_matmul_flops_equal_the_traced_ones():
    cfg, spec = default_setup()
    traced = trace_training_steps(cfg, spec, steps=1)["matmul_flops_per_step"]
    assert traced > 0 and step_flops(spec, cfg.training.batch_size) == traced

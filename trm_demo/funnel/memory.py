"""How much memory a run needs, estimated from its config before any work starts; a run above the budget is
refused with one line naming the knobs that drive it (issue 11: configs inside every knob's range reached 8 GB).

It lives next to the simulation because it mirrors how the engine, the training loop and the simulation hold
their arrays (the funnel's block sizes come from simulation.py); the config only says what each knob may be.
"""

from __future__ import annotations

from trm_demo.config import Config, ConfigError, ModelConfig
from trm_demo.funnel.simulation import FUNNEL_BLOCK, SUB_BATCH

MEMORY_BUDGET = 2 * 2**30      # bytes one run may use at its peak: a laptop's worth, refused above it

# Bytes per row, measured with tracemalloc and rounded up: generating one logged pair or one market
# pair (every field in float64, the logit's temporaries, the float32 features), and keeping a
# logged pair (features, outcome, p_true); one telemetry record while its chunk is turned to text;
# what grows with the period although the ledger keeps only running totals (the timeline's columns, 25 bytes, the
# controllers' histories, the allocator's kept memory): peak RSS 120 MB at 10k and 133 MB at 100k opportunities
# (chunk 1000, telemetry on, the checkpoint's step cap; was 229 and 263 MB before the keyword flags and the keyword
# reader's estimate were computed SUB_BATCH candidates at a time), ~150 bytes per opportunity: 400 stays a bound.
SAMPLE_BYTES, KEPT_SAMPLE_BYTES = 450, 100
TELEMETRY_BYTES, PER_OPPORTUNITY_BYTES = 1_200, 400
BASELINE_BYTES = 160 * 2**20   # the interpreter, NumPy, rich and the model: a default run peaks at 134 MB


def check_memory(c: Config) -> None:
    """Refuse (ConfigError, one line) a run or pretrain whose estimated peak is above MEMORY_BUDGET."""
    peak, drivers = peak_memory(c)
    if peak > MEMORY_BUDGET:
        raise ConfigError(f"this config needs about {peak / 2**30:.1f} GiB of memory, above the "
                          f"{MEMORY_BUDGET / 2**30:.0f} GiB budget (estimate in funnel.memory.peak_memory); most of "
                          f"it is {drivers}: lower those knobs")


def peak_memory(c: Config) -> tuple[int, str]:
    """An upper bound on a run's peak memory in bytes (run or pretrain), and the knobs that drive it.

    The phases: fine-tuning (the logs, one training batch's forward tape and backward temporaries,
    the held-out set evaluated in one batch with its whole trajectory), then the simulation (one
    funnel block of opportunities x candidates with its full-depth trajectory, one chunk's telemetry
    text, what grows with the period). Memory freed between phases is not always returned to
    the system, so the phases are added, not maxed. Checked against /usr/bin/time -v.
    """
    m, t, steps = c.model, c.training, c.model.supervision_steps
    # float32 activations of one supervision step; inference holds two steps' tapes for a moment
    # (engine.infer keeps the previous step's cache while the next one runs), measured: 2x.
    row = 4 * _floats_per_row(m)
    samples = max(t.samples, t.pretrain_samples)
    block = min(c.simulation.opportunities, FUNNEL_BLOCK) * c.market.candidates_per_opportunity
    parts = {
        "training.batch_size x model size": t.batch_size * row,
        # the held-out trajectory, its halt logits and evaluate()'s float64 temporaries
        "training.holdout_samples x model size x model.supervision_steps":
            t.holdout_samples * (2 * row + 8 * 8 * steps),
        "training.samples / pretrain_samples": samples * (SAMPLE_BYTES + KEPT_SAMPLE_BYTES),
        "market.candidates_per_opportunity x model.supervision_steps":
            block * (SAMPLE_BYTES + 2 * 8 * steps) + min(block, SUB_BATCH) * (2 * row + 2 * 8 * steps),
        "simulation.chunk_size x market.candidates_per_opportunity":
            min(c.simulation.chunk_size, c.simulation.opportunities) * c.market.candidates_per_opportunity
            * TELEMETRY_BYTES,
        "simulation.opportunities": c.simulation.opportunities * PER_OPPORTUNITY_BYTES,
    }
    largest = sorted(parts, key=parts.get, reverse=True)[:2]
    return BASELINE_BYTES + sum(parts.values()), " and ".join(f"'{name}'" for name in largest)


def _floats_per_row(m: ModelConfig) -> int:
    """Floats one sample holds during a supervision step (engine.py): the tape of the last cycle's
    n_cycles + 1 calls of `net` (2 blocks, each caching its MLP's pre-activation, hidden layer and
    norm), plus the largest backward or SwiGLU temporaries and the carried y, z, x."""
    width = m.expansion * m.hidden_size
    gate = 2 if m.activation == "swiglu" else 1
    per_block = (gate + 1) * width + 4 * m.hidden_size
    return (m.n_cycles + 1) * 2 * per_block + 12 * width + 8 * m.hidden_size

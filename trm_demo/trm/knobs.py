"""The knobs of the TRM's training loop, declared once with their allowed ranges.

`knob` marks a dataclass field with the range a value may take; config.py builds
every section of the YAML from such fields and its `TrainingConfig` subclasses
`TrainingKnobs`, adding the run's own knobs (epochs, samples, checkpoint). So a
new training knob is one field here (or there) plus its line in the YAML, and
this package still never imports the config: `fit` reads these plain numbers.
No NumPy here: config.py imports this module before process.prepare_process().
"""

from __future__ import annotations

from dataclasses import dataclass, field


def knob(lo: float | None = None, hi: float | None = None, *, choices: tuple = (), open_lo: bool = False):
    """A config field with its allowed range ([lo, hi], or (lo, hi] when open_lo)."""
    return field(metadata={"lo": lo, "hi": hi, "choices": choices, "open_lo": open_lo})


@dataclass(frozen=True)
class TrainingKnobs:
    """What `training.fit` reads; values come from the YAML's training section."""
    batch_size: int = knob(1, 65_536)
    learning_rate: float = knob(0.0, 1.0, open_lo=True)
    weight_decay: float = knob(0.0, 1.0)                  # AdamW's, on weight matrices only
    beta1: float = knob(0.0, 0.999999)
    beta2: float = knob(0.0, 0.999999)
    grad_clip: float = knob(0.0, 1e6, open_lo=True)       # global gradient norm
    ema_decay: float = knob(0.0, 0.999999)                # reached after a warm-up (optimiser.ema_decay_at)
    halting_weight: float = knob(0.0, 10.0)               # halting head's loss beside the prediction's
    halting_tolerance: float = knob(0.0, 1.0)             # |p_step - p_final| at or below this is "settled"
    validation_share: float = knob(0.0, 0.5)              # the last share of the log, never trained on,
                                                          # picks the epoch and the step cap

"""One random stream per purpose, all derived from the run seed.

Each purpose gets its own generator, seeded by (run seed, purpose), so changing
how much one part draws (say, more training samples) never reshuffles another
part (say, the market or the conversion outcomes).
"""

import numpy as np

PURPOSES = ("init", "pretrain_log", "recent_log", "holdout", "market", "outcomes", "llm", "training", "halting", "landscape",
            "history_llm")


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    return np.random.default_rng([seed, PURPOSES.index(purpose)])

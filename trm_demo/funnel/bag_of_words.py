"""The bag-of-words reader: the reading TRM's fair rival (issue 25), a logistic regression on which tokens a row holds.

It reads what the reading TRM reads (funnel/tokens.py: the field tokens and the reply's words, order ignored).
Its features: the fields-only logit, each vocabulary token's presence, and that presence times the job's urgency
(the market scales the offer and notice facts by urgency: market._fact_logits). Columns no training row uses are
dropped; the L2 penalty is the L2_GRID entry with the lowest log-loss on the rows' last fifth when fitted on the
rest, then the model is refitted on all of them (trm/logistic.py, Newton). The reader bench (bench/reader.py)
fits it beside the reading TRM on the same replies, and its warm start regresses one.

In the funnel (strategy `bow_reader`, with reading_trm.enabled) it reads as the reading TRM does for
`trm_reader` (local_reading.py): its own logit is its read-out at a fields-only logit of 0 (what the text adds),
calibrated beside the fields-only TRM logit on the set-up rows' outcomes by the same fit (local_reading.fit_reading),
priced by its FLOPs as the TRM's steps are (local_reading.price_of_flops). Its checkpoint is shipped, fitted on
the same 65,536 labelled replies as the shipped reading TRM (training seed 1001) by REBUILD's command.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from trm_demo.config import Config
from trm_demo.errors import CheckpointError
from trm_demo.funnel.calibration import Labelled
from trm_demo.funnel.local_reading import calibrated, fit_reading, price_of_flops
from trm_demo.funnel.market import Market
from trm_demo.funnel.tokens import VOCAB_SIZE, VOCABULARY, encode_market
from trm_demo.trm.engine import TRMSpec
from trm_demo.trm.logistic import Logistic, fit_logistic
from trm_demo.trm.training import log_loss
from trm_demo.trm.weights import load_arrays, resolve_checkpoint, save_arrays

L2_GRID = (1e-3, 3e-3, 1e-2, 3e-2)
WIDTH = 1 + 2 * VOCAB_SIZE   # the design's columns: fields-only logit, presence, presence x urgency
# The vocabulary a checkpoint was fitted on: the same size with other words would read the wrong columns
VOCABULARY_SHA256 = hashlib.sha256("\n".join(VOCABULARY).encode()).hexdigest()
CHECKPOINT = "trm_demo/checkpoints/reading_bow.npz"   # beside the reading TRM's (a config key would change its hash)
REBUILD = ("rebuild it with python -m bench.reader --bow-only --samples 65536 --out trm_demo/checkpoints/reading_bow.npz, "
           "or set reading_trm.enabled: false")


def bag(ids: np.ndarray) -> np.ndarray:
    """(m, SEQ_LEN) token ids -> (m, V) presence of each vocabulary token in the row (padding left out)."""
    x = np.zeros((len(ids), VOCAB_SIZE), np.float32)
    np.put_along_axis(x, ids, 1.0, axis=1)
    x[:, 0] = 0.0
    return x


def design(ids: np.ndarray, fields_logit: np.ndarray, urgency: np.ndarray) -> np.ndarray:
    """(m, SEQ_LEN) ids, (m,) fields-only logits and urgencies -> (m, WIDTH) features."""
    b = bag(ids)
    return np.c_[fields_logit, b, b * urgency[:, None]]


@dataclass(frozen=True)
class BagOfWords:
    columns: np.ndarray   # (F,) int64: the design's columns it uses, increasing
    weights: np.ndarray   # (F,) float64
    bias: float
    l2: float             # the penalty its validation fifth chose

    def logit(self, ids: np.ndarray, fields_logit: np.ndarray, urgency: np.ndarray) -> np.ndarray:
        """(m,) logit of P(convert), as design's arguments."""
        return design(ids, fields_logit, urgency)[:, self.columns].astype(np.float64) @ self.weights + self.bias

    @property
    def flops(self) -> float:
        """Multiply-adds x2 of one read (its dense dot product)."""
        return 2.0 * len(self.weights)


def fit_bag_of_words(ids: np.ndarray, fields_logit: np.ndarray, urgency: np.ndarray,
                     outcome: np.ndarray) -> BagOfWords:
    """The bag-of-words logistic fitted on these rows' observed 0/1 outcomes (m,), as the module docstring says."""
    x = design(ids, fields_logit, urgency)
    used = np.flatnonzero(x.any(axis=0))
    x = x[:, used]
    cut = int(len(x) * 0.8)
    l2 = min(L2_GRID, key=lambda l2: float(log_loss(fit_logistic(x[:cut], outcome[:cut], l2).predict(x[cut:]),
                                                    outcome[cut:]).mean()))
    fitted = fit_logistic(x, outcome, l2)
    return BagOfWords(used.astype(np.int64), fitted.weights, fitted.bias, l2)


def save_bag_of_words(path: str | Path, reader: BagOfWords, metadata: dict) -> None:
    save_arrays(path, {"columns": reader.columns, "weights": reader.weights, "bias": np.array(reader.bias)},
                {**metadata, "l2": reader.l2, "vocabulary_sha256": VOCABULARY_SHA256})


def bag_of_words() -> tuple[BagOfWords, dict, dict]:
    """The shipped reader (CHECKPOINT), its metadata and source ({"path", "sha256"}), checked: the command line
    calls this before anything on disk changes, the run again (cached: read once per process)."""
    return load_bag_of_words(CHECKPOINT)


@cache
def load_bag_of_words(raw_path: str) -> tuple[BagOfWords, dict, dict]:
    """bag_of_words' for any checkpoint: one line naming what is wrong with a file that is not one of ours."""
    path = resolve_checkpoint(raw_path)
    try:
        arrays, meta, source = load_arrays(path, {"columns": "an integer", "weights": "float64", "bias": "float64"},
                                           8 * WIDTH + 4096)
        columns, weights, bias = arrays["columns"], arrays["weights"], arrays["bias"]
        problem = ("was fitted on another vocabulary" if meta.get("vocabulary_sha256") != VOCABULARY_SHA256 else
                   "has arrays of the wrong shapes" if columns.ndim != 1 or weights.shape != columns.shape
                   or bias.shape != () else
                   f"uses columns outside its design's 0..{WIDTH - 1} or out of order"
                   if len(columns) and (columns[0] < 0 or columns[-1] >= WIDTH or (np.diff(columns) <= 0).any())
                   else None)
        if problem:
            raise CheckpointError(f"checkpoint '{path}' {problem}", fix="size")
    except CheckpointError as err:
        raise CheckpointError(f"reading_trm.enabled: the bag-of-words reader's {err}; {REBUILD}", err.fix) from None
    return BagOfWords(columns.astype(np.int64), weights, float(bias), float(meta.get("l2", 0.0))), meta, source


@dataclass(frozen=True)
class BagTier:
    """bow_reader's reader in a run: the shipped bag of words, priced and calibrated on the set-up rows."""
    reader: BagOfWords
    source: dict                # {"path", "sha256"} of its checkpoint
    price: float                # $ per read
    calibration: Logistic       # P(convert) from [fields-only logit, its own logit] (local_reading.fit_reading)

    def own_logit(self, market: Market) -> np.ndarray:
        """What the text adds: its logit at a fields-only logit of 0, for every candidate. (n, K) -> (n, K)"""
        n, k = market.messages.shape
        urgency = np.broadcast_to(market.pairs()["urgency"], (n, k)).ravel()
        return self.reader.logit(encode_market(market).ids, np.zeros(n * k), urgency).reshape(n, k)

    def probability(self, fields_logit: np.ndarray, own: np.ndarray) -> np.ndarray:
        return calibrated(self.calibration, fields_logit, own)


def load_bag_tier(cfg: Config, tabular: TRMSpec, fields_logit: np.ndarray, labelled: Labelled) -> BagTier:
    """The shipped bag of words, calibrated as the reading TRM is on the same set-up rows (local_reading.load_tier)."""
    reader, _, source = bag_of_words()
    tier = BagTier(reader, source, price_of_flops(cfg.simulation, tabular, reader.flops), Logistic(np.ones(2), 0.0))
    calibration, _ = fit_reading(tier.own_logit, fields_logit, labelled)
    return BagTier(reader, source, tier.price, calibration)

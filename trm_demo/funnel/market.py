"""The synthetic job market: jobs, candidates and the exact P(convert).

Each opportunity is one job with K candidates. The true conversion probability
is an exact function of job and candidate (the oracle's input and every model's
yardstick; models never see it). It is a logit built from nested business rules,
squashed into [0.01, 0.99] so no outcome is ever certain:

1. Salary vs budget band: an ask inside [budget_low, budget_high] is good
   (+0.5 at the bottom of the band down to -0.5 at the top); below the band better
   still (+4 per unit fraction below budget_low, up to +0.8 at 20 % below); above the band
   bad (-12 per unit fraction above budget_high), that penalty softened by up to
   60 % when the job is urgent (x (1 - 0.6 urgency)).
2. Experience: each year short of min_experience costs 0.6; more than 3 years
   beyond max_experience costs 0.25 per extra year (flight risk).
3. Work mode x distance: onsite jobs cost 0.04 per km and 3.0 for a remote-only
   candidate; hybrid jobs cost 0.01 per km and 1.2 x (1 - 1.5 drift) for remote-only; remote jobs
   ignore both.
4. Competing offers: each costs (0.6 + 1.5 drift), up to 60 % less when the
   offer is generous (ask 25 % or more below budget_high).

5. Hidden factors (messages.py), on top of the structured rules; only a reader
   of the candidate's reply can know them:
   intent: actively looking +0.55, open 0, just curious -0.85;
   offer: another offer with a deadline -0.72 + 1.08 urgency (an urgent job can
   move before the deadline: the interaction with a structured field),
   accepted elsewhere -1.8;
   notice: can start now +0.25 urgency, one month -0.12 urgency, three months
   -1.1 urgency (a long notice hurts an urgent job);
   salary_flexible: +0.12, and half of rule 1's over-budget penalty forgiven;
   remote_flexible (remote-only candidates): 60 % of rule 3's remote-only cost
   forgiven. Plus 0.2, so the hidden part averages about 0.
   Their spread is about 1.0 on the logit scale: the structured fields still
   carry most of the signal (the best structured-only model reaches ~88 % of the
   oracle's expected net value, measured in bench).
   Each reply states some of the facts through documented constructions
   (messages.py). `Market.read_logit`, what a perfect reader of fields and reply
   knows, is evaluation's yardstick, never a reader's input: the simulated LLM
   reads the text (simulated_llm.py). `replies="blank"` (config world.replies)
   is the same world with every reply empty.

Base logit 1.3. Drift in [0, 1] moves this period's market away from the
pretraining period's (drift = 0):
- budgets x (1 + 0.05 drift) but asks x (1 + 0.15 drift): more asks over budget;
- work modes (onsite, hybrid, remote) from (45, 35, 20) % to (25, 35, 40) %;
- remote-only candidates from 15 % to 35 %; competing offers ~ Binomial(3, 0.25 + 0.2 drift);
- two rules move, so a model trained on the old period is measurably stale and
  fine-tuning has something real to adapt to: rule 4's weight per offer rises
  from 0.6 to 2.1 (a hotter market), and hybrid employers warm to remote-only
  candidates (rule 3's hybrid remote-only cost x (1 - 1.5 drift): 1.2 at
  drift 0, 0.66 at the default 0.3, a 0.6 bonus at drift 1).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from trm_demo.funnel.messages import SHARES, Hidden, sample_hidden, write_messages

REPLIES = ("text", "blank")   # config world.replies: blank = the same world with every reply empty (the ablation)

ONSITE, HYBRID, REMOTE = 0, 1, 2
JOB_FIELDS = ("budget_low", "budget_high", "min_experience", "max_experience", "work_mode", "urgency")
CANDIDATE_FIELDS = ("asking_salary", "experience", "distance_km", "remote_only", "competing_offers")


@dataclass(frozen=True)
class Market:
    # Jobs, shape (N,): budget band in $k/year, required experience in years, work mode, urgency in [0, 1].
    budget_low: np.ndarray
    budget_high: np.ndarray
    min_experience: np.ndarray
    max_experience: np.ndarray
    work_mode: np.ndarray
    urgency: np.ndarray
    # Candidates, shape (N, K): ask in $k/year, experience in years, distance, remote-only flag, offers 0..3.
    asking_salary: np.ndarray
    experience: np.ndarray
    distance_km: np.ndarray
    remote_only: np.ndarray
    competing_offers: np.ndarray
    drift: np.ndarray     # (N,) how far each job's market has moved from the pretraining period's
    hidden: Hidden        # (N, K) hidden factors, which of them each reply states and through which construction
    messages: np.ndarray  # (N, K) str, each candidate's reply: what an LLM reads
    sentences: np.ndarray  # (N, K, S) str, each reply's sentences in order, "" after its last (messages.py)
    features: np.ndarray  # (N, K, F) float32, what the tabular models see (structured fields only)
    p_true: np.ndarray    # (N, K) float64, what only the oracle sees
    read_logit: np.ndarray  # (N, K) what a perfect reader of fields and reply knows (logit; messages.py)

    @property
    def n_opportunities(self) -> int:
        return self.asking_salary.shape[0]

    @property
    def n_candidates(self) -> int:
        return self.asking_salary.shape[1]

    def pairs(self) -> dict[str, np.ndarray]:
        """Job and candidate fields as broadcastable (N, 1) / (N, K) arrays, for the functions below."""
        return _as_pairs({name: getattr(self, name) for name in JOB_FIELDS + CANDIDATE_FIELDS})

    def at(self, rows: np.ndarray, cols: np.ndarray) -> dict[str, np.ndarray]:
        """Job and candidate fields of candidates (rows[i], cols[i]), (m,) each."""
        return {**{name: getattr(self, name)[rows] for name in JOB_FIELDS},
                **{name: getattr(self, name)[rows, cols] for name in CANDIDATE_FIELDS}}

    def rows(self, part: slice | np.ndarray) -> "Market":
        """The opportunities of `part`, with their candidates."""
        return Market(**{name: (value.rows(part) if isinstance(value, Hidden) else value[part])
                         for name, value in vars(self).items()})


def _as_pairs(fields: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    # Jobs (N,) become (N, 1) so that they broadcast against their candidates (N, K).
    return {name: value[:, None] if name in JOB_FIELDS else value for name, value in fields.items()}


def sample_market(rng: np.random.Generator, n_opportunities: int, candidates_per_opportunity: int,
                  drift: float, replies: str = "text") -> Market:
    """`replies` "blank" empties every reply after drawing it, so the world (and every later draw) is the same."""
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"market drift must lie in [0, 1] (0 = the pretraining period's market), got {drift}")
    if replies not in REPLIES:
        raise ValueError(f"replies must be one of {', '.join(REPLIES)}, got {replies!r}")
    n, k = n_opportunities, candidates_per_opportunity
    # Each role has a going rate; a job's budget sits around it (some employers are stingy,
    # some generous), so whole jobs can be hard: a stingy budget leaves every candidate over it.
    going_rate = np.exp(rng.uniform(np.log(60), np.log(200), n))
    budget_mid = going_rate * np.exp(rng.normal(0.0, 0.18, n)) * (1 + 0.05 * drift)
    half_width = budget_mid * rng.uniform(0.08, 0.18, n)
    min_experience = rng.integers(0, 9, n).astype(np.float64)
    max_experience = min_experience + rng.integers(2, 7, n)
    mode_share = np.array([0.45, 0.35, 0.20]) + drift * np.array([-0.20, 0.0, 0.20])
    work_mode = rng.choice(3, size=n, p=mode_share)
    urgency = rng.random(n)

    # Experience scatters around the job's range; asks rise with experience, so the cheapest
    # candidate is often the under-qualified one (the trap the greedy heuristic walks into).
    required_mid = (min_experience + max_experience)[:, None] / 2
    pool_seniority = rng.normal(0.0, 2.0, (n, 1))  # some jobs only attract juniors (or seniors)
    experience = np.round(np.maximum(0.0, required_mid + pool_seniority + rng.normal(0.0, 2.5, (n, k))), 1)
    ask = going_rate[:, None] * (1 + 0.15 * drift) * np.exp(0.03 * (experience - required_mid)
                                                            + rng.normal(0.0, 0.12, (n, k)))
    distance_km = np.minimum(300.0, np.round(12.0 * np.exp(rng.normal(0.0, 1.0, (n, k))), 1))
    remote_only = rng.random((n, k)) < 0.15 + 0.20 * drift
    competing_offers = rng.binomial(3, 0.25 + 0.20 * drift, (n, k))

    fields = dict(budget_low=budget_mid - half_width, budget_high=budget_mid + half_width,
                  min_experience=min_experience, max_experience=max_experience, work_mode=work_mode,
                  urgency=urgency, asking_salary=np.round(ask, 1), experience=experience,
                  distance_km=distance_km, remote_only=remote_only, competing_offers=competing_offers)
    pairs = _as_pairs(fields)
    hidden, template = sample_hidden(rng, remote_only)
    messages, typo, sentences = write_messages(rng, hidden, template)
    hidden = dataclasses.replace(hidden, typo=typo)
    if replies == "blank":
        hidden, messages, sentences = (hidden.blank(), np.full(messages.shape, "", dtype=object),
                                       np.full(sentences.shape, "", dtype=object))
    structured = conversion_logit(**pairs, drift=drift)
    true_logit = structured + hidden_logit(hidden.values, pairs, drift)
    read_logit = structured + expected_hidden_logit(hidden.values, hidden.stated, pairs, drift)
    return Market(**fields, drift=np.full(n, drift), hidden=hidden, messages=messages, sentences=sentences,
                  features=features(**pairs),
                  p_true=squash(true_logit), read_logit=read_logit)


def conversion_logit(*, budget_low, budget_high, min_experience, max_experience, work_mode, urgency,
                     asking_salary, experience, distance_km, remote_only, competing_offers, drift=0.0):
    """The rules of the module docstring, summed on the logit scale. Arguments broadcast."""
    position_in_band = np.clip((asking_salary - budget_low) / (budget_high - budget_low), 0.0, 1.0)
    below_band = np.clip((budget_low - asking_salary) / budget_low, 0.0, 0.2)
    above_band = np.maximum(0.0, (asking_salary - budget_high) / budget_high)
    salary = (1.0 * (0.5 - position_in_band) + 4.0 * below_band
              - 12.0 * (1 - 0.6 * urgency) * above_band)

    years_short = np.maximum(0.0, min_experience - experience)
    years_over = np.maximum(0.0, experience - max_experience - 3.0)
    qualification = -0.6 * years_short - 0.25 * years_over

    onsite, hybrid = work_mode == ONSITE, work_mode == HYBRID
    location = -(onsite * (0.04 * distance_km + 3.0 * remote_only)
                 + hybrid * (0.01 * distance_km + 1.2 * (1 - 1.5 * drift) * remote_only))

    generosity = np.clip((budget_high - asking_salary) / budget_high / 0.25, 0.0, 1.0)
    offers = -(0.6 + 1.5 * drift) * (1 - 0.6 * generosity) * competing_offers

    return 1.3 + salary + qualification + location + offers


def _fact_logits(fact: str, fields: dict, drift: float) -> list:
    """Rule 5: the logit each value of one hidden fact adds, broadcastable to (N, K)."""
    urgency = fields["urgency"]
    if fact == "intent":
        return [0.55, 0.0, -0.85]
    if fact == "offer":
        return [0.0, -0.72 + 1.08 * urgency, -1.8]
    if fact == "notice":
        return [0.25 * urgency, -0.12 * urgency, -1.1 * urgency]
    if fact == "salary":
        over = np.maximum(0.0, (fields["asking_salary"] - fields["budget_high"]) / fields["budget_high"])
        return [0.0, 0.12 + 0.5 * 12.0 * (1 - 0.6 * urgency) * over]
    mode, remote_only = fields["work_mode"], fields["remote_only"]
    remote_cost = remote_only * ((mode == ONSITE) * 3.0 + (mode == HYBRID) * 1.2 * (1 - 1.5 * drift))
    return [0.0, 0.6 * remote_cost]


def hidden_logit(values: dict, fields: dict, drift: float) -> np.ndarray:
    """Rule 5 summed over the facts: what the hidden situation adds to the structured logit. (N, K)"""
    total = 0.2
    for fact in SHARES:
        options = np.broadcast_arrays(*_fact_logits(fact, fields, drift), values[fact])
        total = total + np.choose(options[-1], options[:-1])
    return total


def expected_hidden_logit(values: dict, stated: dict, fields: dict, drift) -> np.ndarray:
    """What a reader of these facts knows: stated facts exactly, unstated ones at the population's mean effect."""
    total = 0.2
    for fact, share in SHARES.items():
        options = np.broadcast_arrays(*_fact_logits(fact, fields, drift), values[fact])
        known = np.choose(options[-1], options[:-1])
        prior = sum(w * o for w, o in zip(share, options[:-1]))
        total = total + np.where(stated[fact], known, prior)
    return total


def structured_only_probability(fields: dict, drift: float) -> np.ndarray:
    """The best any model of the structured fields can do: P(convert) averaged over the hidden factors' shares.

    Exact (every combination of the five facts, 108 of them), so it is the floor for the TRM's and the
    logistic model's excess log-loss, and the bench's "structured fields only" row. (N, K)"""
    structured = conversion_logit(**fields, drift=drift)
    options = {fact: np.broadcast_arrays(*_fact_logits(fact, fields, drift)) for fact in SHARES}
    total = np.zeros(np.shape(structured))
    for combo in itertools.product(*(range(len(share)) for share in SHARES.values())):
        weight = np.prod([SHARES[fact][v] for fact, v in zip(SHARES, combo)])
        total += weight * squash(structured + 0.2 + sum(options[fact][v] for fact, v in zip(SHARES, combo)))
    return total


def squash(logit) -> np.ndarray:
    """P(convert) strictly inside (0, 1): squashed into [0.01, 0.99]."""
    # Clipping only keeps exp() finite on absurd inputs; at |logit| = 30 p is already 0.01 or 0.99.
    return 0.01 + 0.98 / (1 + np.exp(-np.clip(logit, -30.0, 30.0)))


# Fixed scaling constants (not fitted on data), so pretraining and fine-tuning see identical inputs.
FEATURE_NAMES = (
    "asking_salary", "budget_low", "budget_high", "ask_over_budget_high", "ask_position_in_band",
    "experience", "min_experience", "max_experience", "years_short", "years_over",
    "log_distance", "remote_only", "competing_offers", "urgency", "onsite", "hybrid", "remote",
)
N_FEATURES = len(FEATURE_NAMES)


def features(*, budget_low, budget_high, min_experience, max_experience, work_mode, urgency,
             asking_salary, experience, distance_km, remote_only, competing_offers) -> np.ndarray:
    """Raw fields scaled to roughly unit size, plus cheap derived terms: (..., F) float32.

    The derived ratios only save the model arithmetic; the interactions (urgency x over
    budget, mode x distance, offers x generosity) it still has to learn."""
    # budget_low: (N, 1), asking_salary: (N, K) -> (N, K, F); any broadcastable shapes work.
    columns = [
        (asking_salary - 120.0) / 40.0,
        (budget_low - 110.0) / 40.0,
        (budget_high - 130.0) / 40.0,
        (asking_salary / budget_high - 1.0) / 0.15,
        (asking_salary - budget_low) / (budget_high - budget_low) - 0.5,
        (experience - 7.0) / 4.0,
        (min_experience - 4.0) / 3.0,
        (max_experience - 8.0) / 3.0,
        np.maximum(0.0, min_experience - experience) / 2.0,
        np.maximum(0.0, experience - max_experience) / 2.0,
        np.log1p(distance_km) - 2.5,
        remote_only * 1.0,
        competing_offers / 1.5,
        urgency - 0.5,
        work_mode == ONSITE, work_mode == HYBRID, work_mode == REMOTE,
    ]
    return np.stack(np.broadcast_arrays(*(np.asarray(c, np.float32) for c in columns)), axis=-1)


def labelled_history(rng: np.random.Generator, n: int, drift: float,
                     replies: str = "text") -> tuple[Market, np.ndarray]:
    """Historical pairs, one candidate per job, with their replies and OBSERVED outcomes: market (n, 1), outcome (n,)
    0/1 float32. What a keyword reader is fitted on; the tabular models see only its features (training_log)."""
    market = sample_market(rng, n, 1, drift, replies)
    return market, (rng.random(n) < market.p_true[:, 0]).astype(np.float32)


def training_log(rng: np.random.Generator, n: int, drift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Historical pairs with OBSERVED outcomes: x (n, F) float32, outcome (n,) 0/1 float32, p_true (n,)."""
    market, outcome = labelled_history(rng, n, drift)
    return market.features[:, 0], outcome, market.p_true[:, 0]

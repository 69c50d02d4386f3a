"""Typed, validated configuration.

`config/default_config.yaml` is the single source of truth for every knob's
value; the dataclasses below only say what each knob *is* (type and allowed
range), section by section, in the same order as the YAML. A user's YAML file
overrides the defaults key by key, and command-line flags override both.
Anything wrong is reported as one `ConfigError` line naming the key, the value
and what is allowed, before any work starts.
"""

from __future__ import annotations

import copy
import dataclasses
import errno
import hashlib
import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from trm_demo.errors import ConfigError
from trm_demo.trm.knobs import TrainingKnobs, knob

REPO_ROOT = Path(__file__).resolve().parent.parent
# In a clone the defaults live in config/; `pip install .` ships the same file as trm_demo/defaults/.
DEFAULT_CONFIG_PATH = next(p for p in (REPO_ROOT / "config" / "default_config.yaml",
                                       Path(__file__).resolve().parent / "defaults" / "default_config.yaml")
                           if p.exists())

MIN_AMOUNT = 1e-9              # dollars: the smallest non-zero cost
# Config files: the shipped one is ~7 KB and ~90 values; these limits are far above any real file
# and far below what makes parsing slow or memory-hungry.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_YAML_NODES = 10_000
MAX_YAML_DEPTH = 5             # file > section > knob > event > its fields (scenario.events); one more is refused
IN_FILE = "in the config file"   # how a message says the value is the file's, not a flag's
MAX_INT_DIGITS = 100           # int() and repr() of thousands of digits are slow, or fail


@dataclass(frozen=True)
class ModelConfig:
    hidden_size: int = knob(2, 512)
    expansion: int = knob(1, 8)
    n_cycles: int = knob(1, 16)
    outer_steps: int = knob(1, 16)
    supervision_steps: int = knob(1, 32)
    activation: str = knob(choices=("swiglu", "gelu"))
    halt_bias_init: float = knob(-20.0, 0.0)


@dataclass(frozen=True)
class TrainingConfig(TrainingKnobs):
    """The training loop's own knobs (trm/knobs.py, listed first in the YAML), then the run's."""
    epochs: int = knob(0, 10_000)
    samples: int = knob(16, 5_000_000)
    holdout_samples: int = knob(16, 1_000_000)
    from_scratch: bool = knob()
    checkpoint: str = knob()
    pretrain_samples: int = knob(16, 5_000_000)
    pretrain_epochs: int = knob(1, 10_000)


@dataclass(frozen=True)
class MarketConfig:
    candidates_per_opportunity: int = knob(2, 16)
    drift: float = knob(0.0, 1.0)


@dataclass(frozen=True)
class WorldConfig:
    replies: str = knob(choices=("text", "blank"))


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = knob(0, 2**32 - 1)
    opportunities: int = knob(1, 2_000_000)
    chunk_size: int = knob(1, 100_000)
    conversion_value: float = knob(0.0, 1e9, open_lo=True)
    outreach_cost: float = knob(0.0, 1e9)
    greedy_cost: float = knob(0.0, 1e6)
    llm_cost: float = knob(0.0, 1e6)
    llm_noise: float = knob(0.0, 5.0)
    llm_bias: float = knob(-5.0, 5.0)
    llm_latency_ms: float = knob(0.0, 1e6)
    llm_timeout_ms: float = knob(0.0, 1e6)
    trm_base_cost: float = knob(0.0, 1e6)
    trm_cost_per_step: float = knob(0.0, 1e6)
    trm_latency_base_ms: float = knob(0.0, 1e6)
    trm_latency_per_step_ms: float = knob(0.0, 1e6)
    trm_halt_threshold: float = knob(0.0, 1.0)


@dataclass(frozen=True)
class CascadeConfig:
    prior_error_sd: float = knob(0.0, 10.0, open_lo=True)
    calibration_reads: int = knob(0, 100_000)


@dataclass(frozen=True)
class ReadingTRMConfig:
    enabled: bool = knob()
    checkpoint: str = knob()
    llm_hurdle: float = knob(0.0, 1e6, open_lo=True)


@dataclass(frozen=True)
class RivalsConfig:
    shortlist_k: int = knob(1, 16)
    router_k: int = knob(1, 16)


@dataclass(frozen=True)
class ThermostatConfig:
    enabled: bool = knob()
    initial_hurdle: float = knob(0.0, 1e6, open_lo=True)
    min_hurdle: float = knob(0.0, 1e6, open_lo=True)
    max_hurdle: float = knob(0.0, 1e6, open_lo=True)
    replay_hurdle: float = knob(0.0, 1e6, open_lo=True)
    window: int = knob(1, 10_000_000)
    warmup: int = knob(0, 10_000_000)
    surprise_window: int = knob(0, 10_000_000)
    steady_surprise: float = knob(0.0, 1e6, open_lo=True)


@dataclass(frozen=True)
class SentinelConfig:
    enabled: bool = knob()
    llm_budget_per_opportunity: float = knob(0.0, 1e6)
    max_latency_ms: float = knob(0.0, 1e9, open_lo=True)
    breaker_window: int = knob(1, 100_000)
    breaker_failure_rate: float = knob(0.0, 1.0, open_lo=True)
    breaker_cooldown: int = knob(1, 10_000_000)
    breaker_probes: int = knob(1, 1000)
    latency_cost_per_s: float = knob(0.0, 1e6)
    trm_max_latency_ms: float = knob(0.0, 1e9, open_lo=True)


@dataclass(frozen=True)
class ScenarioConfig:
    events: tuple = knob()


@dataclass(frozen=True)
class SubgraphConfig:
    enabled: bool = knob()
    path: str = knob()


@dataclass(frozen=True)
class ReportConfig:
    path: str = knob()
    metrics_path: str = knob()
    training_log_path: str = knob()
    max_chart_points: int = knob(10, 1000)


# The LLM reader's prompt templates (trm_demo/llm/prompts/<version>.txt), listed without importing
# trm_demo.llm: it loads NumPy, which must wait for process.prepare_process().
PROMPT_VERSIONS = tuple(sorted(p.stem for p in (Path(__file__).resolve().parent / "llm" / "prompts").glob("*.txt")))


@dataclass(frozen=True)
class LLMConfig:
    provider: str = knob(choices=("simulated", "openai_compatible"))
    base_url: str = knob()
    model: str = knob()
    timeout_s: float = knob(0.0, 600.0, open_lo=True)
    retries: int = knob(0, 10)
    concurrency: int = knob(1, 64)
    input_price_per_million: float = knob(0.0, 1e4)
    output_price_per_million: float = knob(0.0, 1e4)
    prompt_version: str = knob(choices=PROMPT_VERSIONS)
    cache_path: str = knob()
    time_budget_s: float = knob(0.0, 1e6)
    scenario_events: bool = knob()


@dataclass(frozen=True)
class Config:
    model: ModelConfig
    training: TrainingConfig
    market: MarketConfig
    world: WorldConfig
    simulation: SimulationConfig
    cascade: CascadeConfig
    reading_trm: ReadingTRMConfig
    rivals: RivalsConfig
    thermostat: ThermostatConfig
    sentinel: SentinelConfig
    scenario: ScenarioConfig
    subgraph: SubgraphConfig
    report: ReportConfig
    llm: LLMConfig

    def to_dict(self) -> dict:
        """Plain YAML-able data: the events tuple becomes a list again."""
        data = dataclasses.asdict(self)
        data["scenario"]["events"] = [dict(event) for event in data["scenario"]["events"]]
        return data

    def digest(self) -> str:
        """Short hash of the effective knobs, for the reproducibility footer."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def replace(self, **dotted: Any) -> "Config":
        """A copy with some knobs changed, e.g. replace(**{"simulation.seed": 3}); validated."""
        return build_config(_merge(self.to_dict(), _nest(dotted)))


_SECTION_TYPES = {
    "model": ModelConfig, "training": TrainingConfig, "market": MarketConfig, "world": WorldConfig,
    "simulation": SimulationConfig, "cascade": CascadeConfig, "reading_trm": ReadingTRMConfig,
    "rivals": RivalsConfig,
    "thermostat": ThermostatConfig,
    "sentinel": SentinelConfig, "scenario": ScenarioConfig, "subgraph": SubgraphConfig, "report": ReportConfig,
    "llm": LLMConfig,
}


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the user's YAML file (if any), then dotted overrides from flags."""
    merged = shipped_defaults()
    if path is not None:
        merged = _merge(merged, read_yaml(Path(path)))
    config = build_config(_merge(merged, _nest(overrides or {})))
    if path is not None and overrides:   # a bad value under a key a flag overrides is still a bad file
        try:
            build_config(merged, relations=False)
        except ConfigError as err:
            raise ConfigError(f"{err} {IN_FILE} '{_show_path(Path(path))}' (a flag overrides the key, but "
                              "the file's own value must be valid too)") from None
    return config


_SHIPPED: dict = {}   # (path, mtime, size, inode) of the shipped YAML -> its parsed mapping


def shipped_defaults() -> dict:
    """The shipped YAML as a mapping (a copy), parsed once per process while the file is unchanged: a run loads
    it three times (its config, the flags' defaults, the changes table) at ~50 ms of PyYAML each (issue 24)."""
    info = os.stat(DEFAULT_CONFIG_PATH)
    key = (str(DEFAULT_CONFIG_PATH), info.st_mtime_ns, info.st_size, info.st_ino)
    if key not in _SHIPPED:
        _SHIPPED.clear()
        _SHIPPED[key] = read_yaml(DEFAULT_CONFIG_PATH)
    return copy.deepcopy(_SHIPPED[key])


def knob_range(key: str) -> tuple:
    """(lo, hi) of a numeric knob, e.g. knob_range("simulation.seed") == (0, 2**32 - 1)."""
    section, name = key.split(".")
    meta = next(f.metadata for f in dataclasses.fields(_SECTION_TYPES[section]) if f.name == name)
    return meta["lo"], meta["hi"]


def build_config(raw: dict, relations: bool = True) -> Config:
    """Every knob checked; with `relations` also the checks across knobs (a file that flags complete skips them)."""
    sections = {}
    for name, cls in _SECTION_TYPES.items():
        values = raw.get(name)
        if not isinstance(values, dict):
            raise ConfigError(f"config section '{name}' must be a mapping of knobs, got {_show(values)}")
        sections[name] = cls(**{f.name: _check(f"{name}.{f.name}", values.get(f.name, _MISSING), f)
                                for f in dataclasses.fields(cls)})
    config = Config(**sections)
    if relations:
        _check_relations(config)
    return config


_MISSING = object()


def read_yaml(path: Path) -> dict:
    """A config file as a mapping, read strictly (the loader refuses what a config cannot hold)."""
    text = _read_text(path)
    try:
        data = _StrictLoader(text).get_single_data()
    except _Refused as err:
        raise ConfigError(f"config file '{_show_path(path)}' {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file '{_show_path(path)}' is not valid YAML{_yaml_problem(err, text)}") from None
    if data is None:
        raise ConfigError(f"config file '{path}' is empty; give at least one section, e.g. 'simulation: {{opportunities: 200}}'")
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must be a mapping of sections ({', '.join(_SECTION_TYPES)}), got {_show(data)}")
    return data


def _read_text(path: Path) -> str:
    """The file's text, read only if it is a regular file of at most MAX_CONFIG_BYTES.

    A FIFO would block on open, /dev/zero would never end, a directory cannot
    be read: all are refused from their stat before anything is opened."""
    shown = _show_path(path)
    try:
        info = os.stat(path)
        if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_CONFIG_BYTES:
            # O_NONBLOCK: if the file was swapped for a FIFO since the stat, open must not wait for a writer.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())   # what was opened, not what was stat'ed
                data = handle.read(MAX_CONFIG_BYTES + 1) if stat.S_ISREG(info.st_mode) else b""
    except (OSError, ValueError) as err:
        raise ConfigError(f"config file '{shown}' {_unreadable(err)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"config path '{shown}' is a directory; pass a YAML file to --config")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"config path '{shown}' is not a regular file (a pipe, device or socket); "
                          "pass a YAML file to --config")
    if info.st_size > MAX_CONFIG_BYTES or len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file '{shown}' is larger than the {MAX_CONFIG_BYTES // 1024:,} KiB limit "
                          f"({info.st_size:,} bytes); a config file is a few KiB of knobs")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file '{shown}' is not UTF-8 text (byte {err.start}); save it as UTF-8 YAML") from None


def _unreadable(err: Exception) -> str:
    """Why a config path cannot be opened, in words that say what to do."""
    reasons = {errno.ENOENT: "does not exist; pass an existing YAML file to --config",
               errno.ENOTDIR: "does not exist (a part of the path is a file); pass an existing YAML file to --config",
               errno.ELOOP: "is a loop of symbolic links; pass the YAML file itself to --config",
               errno.ENAMETOOLONG: "has a path too long for this system; pass a shorter path to --config"}
    if isinstance(err, ValueError):   # e.g. a NUL byte in the path
        return f"is not a valid path ({err}); pass a YAML file to --config"
    return reasons.get(err.errno, f"cannot be read: {err.strerror}")


def _yaml_problem(err: yaml.YAMLError, text: str) -> str:
    """': problem' with where it is, for a YAML syntax or tag error."""
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    if not mark and isinstance(getattr(err, "position", None), int):   # a forbidden character
        where = f" at line {text.count(chr(10), 0, err.position) + 1}"
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    # An unclosed bracket or quote is only noticed lines later: say where it started.
    start = getattr(err, "context_mark", None)
    if start and mark and start.line != mark.line:
        problem += f" ({err.context} started at line {start.line + 1})"
    return f"{where}: {problem}"


class _Refused(Exception):
    """YAML that parses but that no config file needs: the message completes "config file 'x' ..."."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader (a tag can never build a Python object) that also refuses, while composing, before any
    value is built: anchors and aliases (the "billion laughs" expand them), more than MAX_YAML_NODES
    nodes, nesting deeper than section: knob: value, keys that are not plain text (`1`, `on`, `~`),
    duplicate keys (else the last silently wins) and whole numbers too long to be any knob."""

    def __init__(self, text: str):
        super().__init__(text)
        self._nodes = 0
        self._depth = 0               # containers and values from the top down to the node being composed
        self._path: list[str] = []    # their keys, to name the knob in a message

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(f"uses a YAML anchor or alias ('{event.anchor}') at line {line}; they are not allowed "
                           "in config files: write each value out")
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise _Refused(f"has more than {MAX_YAML_NODES:,} YAML values (at line {line}); "
                           "a config file holds one value per knob")
        if self._depth >= MAX_YAML_DEPTH:
            under = ".".join(self._path)
            raise _Refused(f"nests deeper than 'section: knob: value' at line {line} (under '{under}'); "
                           "give each knob one value")
        is_value = isinstance(index, yaml.ScalarNode)     # a mapping's value is composed with its key as index
        if is_value:
            self._path.append(index.value)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
            self._check_node(node)
        finally:
            self._depth -= 1
            if is_value:
                self._path.pop()
        return node

    def _check_node(self, node) -> None:
        where = ".".join(self._path)
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int":
            digits = sum(c.isdigit() for c in node.value)
            if digits > MAX_INT_DIGITS:
                raise _Refused(f"gives '{where}' a whole number of {digits:,} digits at line "
                               f"{node.start_mark.line + 1}; no knob takes more than {MAX_INT_DIGITS}")
        if not isinstance(node, yaml.MappingNode):
            return
        first_line: dict[str, int] = {}
        for key, _ in node.value:
            line = key.start_mark.line + 1
            if not (isinstance(key, yaml.ScalarNode) and key.tag == "tag:yaml.org,2002:str"):
                name = _show(key.value) if isinstance(key, yaml.ScalarNode) else f"a {key.id}"
                raise _Refused(f"has the key {name} at line {line}, which YAML reads as {_yaml_kind(key.tag)}, "
                               "not a name; use the section and knob names the `config` command prints")
            dotted = ".".join([*self._path, key.value])
            if key.value in first_line:
                raise _Refused(f"repeats the key '{dotted}' at line {line} (first given at line "
                               f"{first_line[key.value]}); keep one of them")
            first_line[key.value] = line


def _yaml_kind(tag: str) -> str:
    kind = tag.rsplit(":", 1)[-1]
    return {"bool": "true/false", "null": "null", "int": "a number", "float": "a number",
            "map": "a mapping", "seq": "a list"}.get(kind, kind)


def _show_path(path: Path) -> str:
    """A path fit for a one-line message (an attacker's path can be kilobytes long)."""
    text = str(path)
    return text if len(text) <= 120 else f"{text[:60]}...{text[-57:]}"


def _merge(base: dict, override: dict) -> dict:
    """Override `base` key by key, rejecting names that do not exist."""
    merged = {name: dict(values) if isinstance(values, dict) else values for name, values in base.items()}
    for name, values in override.items():
        if name not in _SECTION_TYPES:
            raise ConfigError(f"unknown config section '{name}'{_suggest(name, _SECTION_TYPES)}; "
                              f"sections are: {', '.join(_SECTION_TYPES)}")
        if not isinstance(values, dict):
            raise ConfigError(f"config section '{name}' must be a mapping of knobs, got {_show(values)}")
        knobs = {f.name for f in dataclasses.fields(_SECTION_TYPES[name])}
        for key, value in values.items():
            if key not in knobs:
                raise ConfigError(f"unknown config key '{name}.{key}'{_suggest(str(key), knobs)}")
            merged[name][key] = value
    return merged


def _nest(dotted: dict[str, Any]) -> dict:
    nested: dict[str, dict] = {}
    for key, value in dotted.items():
        section, _, name = key.partition(".")
        nested.setdefault(section, {})[name] = value
    return nested


def _check(key: str, value: Any, f: dataclasses.Field) -> Any:
    if value is _MISSING:
        raise ConfigError(f"config key '{key}' is missing; add it (the `config` command prints every key)")
    meta = f.metadata
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"config key '{key}' must be true or false, got {_show(value)}")
        return value
    if kind == "tuple":
        return _check_events(key, value)
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"config key '{key}' must be text, got {_show(value)}")
        if meta["choices"] and value not in meta["choices"]:
            raise ConfigError(f"config key '{key}' must be one of {', '.join(meta['choices'])}, got {_show(value)}")
        return value
    # Numbers. bool is a subclass of int in Python, so reject it explicitly.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"config key '{key}' must be a number{_range_text(meta)}, got {_show(value)}"
                          f"{_quoted_number(value)}")
    # A Python int is always finite, and may be too large for a float: only floats are tested.
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config key '{key}' must be a finite number{_range_text(meta)}, got {_show(value)}")
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"config key '{key}' must be a whole number{_range_text(meta)}, got {_show(value)}")
        value = int(value)
    # int-float comparisons are exact in Python, whatever the int's size: the range check converts nothing.
    lo, hi = meta["lo"], meta["hi"]
    too_low = lo is not None and (value <= lo if meta["open_lo"] else value < lo)
    if too_low or (hi is not None and value > hi):
        raise ConfigError(f"config key '{key}' {_bound_words(meta, too_low)}, got {_show(value)}")
    return float(value) if kind == "float" else value


# One change per scenario event, and what each may be: (type, lo, hi).
EVENT_CHANGES = {"llm_price_multiplier": (float, 0.01, 1000.0), "llm_outage": (int, 1, 10_000_000),
                 "drift": (float, 0.0, 1.0), "traffic_multiplier": (float, 0.1, 10.0)}
MAX_EVENTS = 100


def _check_events(key: str, value: Any) -> tuple:
    """scenario.events: a list of {at: opportunity, <one change>: value}, in order of `at`."""
    changes = ", ".join(EVENT_CHANGES)
    if not isinstance(value, list) or len(value) > MAX_EVENTS:
        raise ConfigError(f"config key '{key}' must be a list of at most {MAX_EVENTS} events like "
                          f"{{at: 100, llm_price_multiplier: 3}}, got {_show(value)}")
    events = []
    for i, event in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(event, dict) or set(event) - {"at", *EVENT_CHANGES} or "at" not in event \
                or len(event) != 2:
            raise ConfigError(f"config key '{where}' must be a mapping with 'at' and exactly one of {changes}, "
                              f"got {_show(event)}")
        (change, amount), = ((k, v) for k, v in event.items() if k != "at")
        kind, lo, hi = EVENT_CHANGES[change]
        at = _check_number(f"{where}.at", event["at"], int, 0, None)
        events.append({"at": at, change: _check_number(f"{where}.{change}", amount, kind, lo, hi)})
    if any(b["at"] < a["at"] for a, b in zip(events, events[1:])):
        raise ConfigError(f"config key '{key}' must list its events in order of 'at'")
    return tuple(events)


def _check_number(key: str, value: Any, kind: type, lo, hi):
    field = dataclasses.field(metadata={"lo": lo, "hi": hi, "choices": (), "open_lo": False})
    field.type = kind.__name__
    return _check(key, value, field)


def _check_relations(c: Config) -> None:
    t = c.thermostat
    if not t.min_hurdle <= t.initial_hurdle <= t.max_hurdle:
        raise ConfigError(f"config key 'thermostat.initial_hurdle' must lie in [{t.min_hurdle}, {t.max_hurdle}] "
                          f"(between 'thermostat.min_hurdle' and 'thermostat.max_hurdle'), got {t.initial_hurdle}")
    # ROI divides by total cost: a non-zero amount below a nano-dollar is a typo, and can overflow it.
    for name in ("outreach_cost", "greedy_cost", "llm_cost", "trm_base_cost", "trm_cost_per_step"):
        amount = getattr(c.simulation, name)
        if 0 < amount < MIN_AMOUNT:
            raise ConfigError(f"config key 'simulation.{name}' must be 0 or at least {MIN_AMOUNT:g} dollars, "
                              f"got {amount!r}")
    for key in ("subgraph.path", "report.path", "report.metrics_path", "report.training_log_path",
                "reading_trm.checkpoint"):
        section, name = key.split(".")
        if not getattr(getattr(c, section), name).strip():
            raise ConfigError(f"config key '{key}' must be a file path, got an empty string")
    _check_llm(c.llm)


def _check_llm(llm: LLMConfig) -> None:
    if not llm.cache_path.strip():
        raise ConfigError("config key 'llm.cache_path' must be a file path, got an empty string")
    # The URL is shown in the terminal, the JSON and the reports: never a password. (The reader sends no user-info.)
    if "@" in llm.base_url.partition("://")[2].partition("/")[0]:
        raise ConfigError(f"config key 'llm.base_url' must not carry a user name or password (got "
                          f"{_show(redacted_url(llm.base_url))}); the reader sends the key from the environment "
                          "variable TRM_DEMO_LLM_API_KEY (or OPENAI_API_KEY) as a Bearer token")
    if llm.provider != "openai_compatible":
        return   # the simulated reader uses neither the endpoint nor the model name
    if not _is_http_url(llm.base_url):
        raise ConfigError(f"config key 'llm.base_url' must be an http:// or https:// URL with a host when "
                          f"llm.provider is openai_compatible, got {_show(redacted_url(llm.base_url))}")
    if not llm.model.strip():
        raise ConfigError("config key 'llm.model' must name the model to call when llm.provider is "
                          "openai_compatible, e.g. 'llama3.1:8b'; got an empty string")


def redacted_url(text: str) -> str:
    """'http://user:***@host/v1' for 'http://user:secret@host/v1': what a message may show of a URL."""
    scheme, at, rest = text.partition("://")
    if not at:
        return text
    netloc, slash, path = rest.partition("/")
    user, sign, host = netloc.rpartition("@")
    if not sign:
        return text
    return f"{scheme}://{user.partition(':')[0]}:***@{host}{slash}{path}"


def _is_http_url(text: str) -> bool:
    try:
        url = urlsplit(text)
        url.port   # parsed on access: a port that is not a number in range raises ValueError
        plain = text.isascii() and text.isprintable() and " " not in text   # what an HTTP request line can carry
        return url.scheme in ("http", "https") and bool(url.hostname) and plain
    except ValueError:   # e.g. "http://[::1" or a port that is not a number
        return False


def _range_text(meta: dict) -> str:
    lo, hi = meta["lo"], meta["hi"]
    if lo is None:
        return ""
    return f" in {'(' if meta['open_lo'] else '['}{_number_text(lo)}, {_number_text(hi)}]"


def _bound_words(meta: dict, too_low: bool) -> str:
    """The bound a value broke, in words, then the whole range: "must be ≥ 0 (allowed: [0, 1,000,000])"."""
    lo, hi = meta["lo"], meta["hi"]
    bound = (f"must be {'>' if meta['open_lo'] else '≥'} {_number_text(lo)}" if too_low
             else f"must be ≤ {_number_text(hi)}")
    return f"{bound} (allowed:{_range_text(meta).removeprefix(' in')})"


def _quoted_number(value: Any) -> str:
    """'"0.1"' in YAML is text: say so, as it looks like the number it is not."""
    try:
        float(value)
    except (TypeError, ValueError):
        return ""
    return " (a quoted string: remove the quotes to give a number)" if isinstance(value, str) else ""


def _number_text(x: float) -> str:
    if float(x).is_integer() and abs(x) >= 1000:
        return f"{int(x):,}"   # 1,000,000 not 1,000,000.0
    return f"{x:g}"


def _suggest(name: str, options) -> str:
    import difflib   # here: only a mistyped key needs it (~5 ms of every start-up otherwise)
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _show(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 332:   # past 100 digits; repr fails past 4,300
        return f"a whole number of about {value.bit_length() * 0.30103:,.0f} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def shown_path(path: str) -> str:
    """A path inside the repository relative to it (the same on every clone), any other as typed."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path

"""What a run changed from the shipped defaults: the config file, the keys that differ, the flags.

Recorded in demo_metrics.json ("changes") so the report and the terminal can say it: a knob
edit that is never shown cannot be explained (e.g. a `sentinel.llm_budget_per_opportunity`
so low that the cascade becomes the TRM alone). The measured effect of each changed key is
dossier.EFFECTS (report/dossier.py).
"""

from __future__ import annotations

from trm_demo.report.formats import value

# Where the outputs go changes no figure of the run: the flags that move them are listed, not these keys.
OUTPUT_KEYS = {"report.path", "report.metrics_path", "report.training_log_path", "subgraph.path"}


def config_changes(settings: dict, default_settings: dict, shown: str | None, flag_keys: dict[str, str],
                   flags: list[str]) -> dict:
    """settings, default_settings: the run's and the shipped config as plain data (`Config.to_dict()`);
    shown: the --config file as the report names it; flag_keys: config key -> the flag that set it;
    flags: every flag typed, in order."""
    defaults, mine = _flat(default_settings), _flat(settings)
    return {"config_file": shown, "flags": flags,
            "keys": [{"key": key, "default": defaults.get(key), "value": value,
                      "set_by": flag_keys.get(key) or shown or "config"}
                     for key, value in mine.items() if value != defaults.get(key) and key not in OUTPUT_KEYS]}


def shown_value(x) -> str:
    """A config value as a person types it in YAML: 45 not 45.0; a list of scenario events in flow style,
    `[{at: 80, llm_price_multiplier: 2.5}]`, not Python's repr."""
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {shown_value(v)}" for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(shown_value(v) for v in x) + "]"
    if x == "":
        return "empty"   # not a blank that reads as a missing word: "(default: empty)"
    return value(x)


def _flat(tree: dict) -> dict:
    return {f"{section}.{key}": value for section, knobs in tree.items() for key, value in knobs.items()}

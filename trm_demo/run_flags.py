"""The flags of `run` and `pretrain`, and the config keys they set.

Kept apart from cli.py (the flow) so that `--help` and a bad flag cost the YAML loader only: building these
parsers imports no NumPy, no funnel and no terminal library.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Callable

from trm_demo.commands import number_type
from trm_demo.report import glossary
from trm_demo.config import IN_FILE, knob_range, load_config, read_yaml

# flag -> (config key it overrides, what it takes): the one table of the flags that set a knob
FLAG_KEYS = {"seed": ("simulation.seed", "N"), "train_epochs": ("training.epochs", "N"),
             "train_samples": ("training.samples", "N"), "learning_rate": ("training.learning_rate", "RATE"),
             "opportunities": ("simulation.opportunities", "N"), "export_json": ("report.metrics_path", "PATH"),
             "export_training_log": ("report.training_log_path", "PATH"), "export_report": ("report.path", "PATH"),
             "telemetry": ("subgraph.path", "PATH"), "checkpoint": ("training.checkpoint", "PATH"),
             "llm_provider": ("llm.provider", "{simulated,openai_compatible}"),
             "llm_base_url": ("llm.base_url", "URL"), "llm_model": ("llm.model", "NAME")}
# `pretrain --out` default: the working directory, so retraining never touches the shipped checkpoint.
DEFAULT_PRETRAIN_OUT = "pretrained_trm.npz"
SHIPPED_CONFIG = "the shipped defaults (`config` prints them)"


def flag_name(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def config_number(key: str):
    """The type of a flag that sets a config knob: the knob's own range, so flag and YAML agree."""
    lo, hi = knob_range(key)
    return number_type(int, lo, hi)


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """`run`'s flags: each overrides one config knob (FLAG_KEYS), shows its default from the shipped YAML and,
    if numeric, the knob's own range."""
    p.description = ("Tiny Recursive Model vs greedy vs a simulated LLM in a recruiting conversion funnel. Every "
                     f"knob has its value in {SHIPPED_CONFIG}; --config and the flags override it.")
    p.epilog = f"{p.epilog or ''} {glossary.help_text()}".strip()   # the summary's words, defined
    default = shipped_default()
    add_training_flags(p, default)
    p.add_argument("--train-epochs", type=config_number("training.epochs"), metavar="N",
                   help=f"fine-tuning epochs; 0 uses the checkpoint as is {default('training.epochs')}")
    p.add_argument("--train-samples", type=config_number("training.samples"), metavar="N",
                   help=f"size of the recent log {default('training.samples')}")
    p.add_argument("--opportunities", type=config_number("simulation.opportunities"), metavar="N",
                   help=f"opportunities to simulate {default('simulation.opportunities')}")
    p.add_argument("--export-json", metavar="PATH", help=f"metrics JSON {default('report.metrics_path')}")
    p.add_argument("--export-training-log", metavar="PATH",
                   help=f"training log JSON {default('report.training_log_path')}")
    p.add_argument("--export-report", metavar="PATH", help=f"Markdown dossier {default('report.path')}")
    p.add_argument("--export-html", metavar="PATH",
                   help="one-file HTML dossier, same content as the Markdown (default: the --export-report path "
                   "with .html)")
    p.add_argument("--telemetry", metavar="PATH", help=f"per-call telemetry JSON {default('subgraph.path')}")
    p.add_argument("--checkpoint", metavar="PATH", help=f"start from these weights {default('training.checkpoint')}")
    p.add_argument("--save-checkpoint", metavar="PATH", help="save the fine-tuned weights here (default: not saved)")
    p.add_argument("--llm-provider", choices=("simulated", "openai_compatible"),
                   help=f"who reads the replies {default('llm.provider')}; openai_compatible calls --llm-base-url")
    p.add_argument("--llm-base-url", metavar="URL",
                   help=f"OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 {default('llm.base_url')}")
    p.add_argument("--llm-model", metavar="NAME", help="model name the endpoint knows, needed with "
                   f"--llm-provider openai_compatible {default('llm.model')}; the API key comes from "
                   "TRM_DEMO_LLM_API_KEY, else OPENAI_API_KEY")
    p.add_argument("--replace-shipped", action="store_true",
                   help="allow --save-checkpoint to replace a checkpoint shipped in trm_demo/checkpoints/")
    p.add_argument("--seeds", type=number_type(int, 2, 1000), metavar="N",
                   help="also rerun the whole pipeline for N seeds (seed, seed+1, ...) in parallel and report "
                   "means with 95%% confidence intervals (default: off)")
    p.add_argument("--from-scratch", action="store_true", help="ignore the checkpoint; start from the seeded init")
    p.add_argument("--no-cache", action="store_true",
                   help="fine-tune (and fit the history, decide the break-even map) even if .trm_demo_cache/ holds "
                        "the result of identical inputs (trm_demo/memo.py)")


def add_pretrain_flags(p: argparse.ArgumentParser) -> None:
    p.description = ("Train the tabular TRM checkpoint from scratch, as the shipped one was made: seeded init, "
                     "training.pretrain_epochs on training.pretrain_samples of the last period's log.")
    add_training_flags(p, shipped_default())
    p.add_argument("--out", metavar="PATH",
                   help=f"write the checkpoint here (default: {DEFAULT_PRETRAIN_OUT} in the working directory); "
                   "use it with `run --checkpoint PATH`")
    p.add_argument("--replace-shipped", action="store_true",
                   help="allow --out to replace a checkpoint shipped in trm_demo/checkpoints/")


def add_training_flags(p: argparse.ArgumentParser, default: Callable[[str], str]) -> None:
    """The flags `run` and `pretrain` share: the config file, the seed, the step size, missing directories."""
    p.add_argument("--config", metavar="PATH",
                   help=f"YAML file overriding {SHIPPED_CONFIG} key by key (default: none)")
    p.add_argument("--seed", type=config_number("simulation.seed"), metavar="N",
                   help=f"run seed {default('simulation.seed')}")
    p.add_argument("--learning-rate", type=number_type(float, 1e-12, 1.0), metavar="RATE",
                   help=f"AdamW step size {default('training.learning_rate')}")
    p.add_argument("--make-dirs", action="store_true",
                   help="create the missing directories of the output paths you give (without it such a path "
                   "is refused: a typo must not create directories)")


def shipped_default() -> Callable[[str], str]:
    """key -> "(default: 7, simulation.seed)": the shipped YAML's value, for a flag's help."""
    shipped = load_config()

    def default(key: str) -> str:
        section, name = key.split(".")
        value = getattr(getattr(shipped, section), name)
        return f"(default: {value if value != '' else 'empty'}, {key})"
    return default


def overrides(args) -> dict:
    flags = given(args)
    values = {FLAG_KEYS[name][0]: value for name, value in flags.items()}
    if getattr(args, "from_scratch", False):
        values["training.from_scratch"] = True
    if flags.get("checkpoint"):   # typed by the user: from the working directory, even if it looks like the package's
        values["training.checkpoint"] = os.path.abspath(flags["checkpoint"])
    return values


def given(args) -> dict:
    """flag -> value of the FLAG_KEYS flags on the command line (`pretrain` takes only some of them)."""
    return {name: getattr(args, name) for name in FLAG_KEYS if getattr(args, name, None) is not None}


def flag_keys(args) -> dict[str, str]:
    """Config key -> the flag that set it, for the report's "What you changed"."""
    keys = {FLAG_KEYS[name][0]: flag_name(name) for name in given(args)}
    return {**keys, "training.from_scratch": "--from-scratch"} if args.from_scratch else keys


def with_flag(message: str, args) -> str:
    """A config error about a key a flag can set, naming that flag: "(set by --seed)" when the user typed it,
    else, if the value is the shipped default's, how to set it ("; give it with --llm-model NAME, or llm.model
    in --config")."""
    typed = given(args)
    in_file = {f"{section}.{key}" for section, knobs in (read_yaml(Path(args.config)) if args.config else {}).items()
               if isinstance(knobs, dict) for key in knobs}
    for name, (key, metavar) in FLAG_KEYS.items():
        if f"'{key}'" in message:
            if name in typed and IN_FILE not in message:
                return f"{message} (set by {flag_name(name)})"
            if name not in typed and key not in in_file and hasattr(args, name):   # a flag of this command
                return f"{message}; give it with {flag_name(name)} {metavar}, or {key} in --config"
    return message

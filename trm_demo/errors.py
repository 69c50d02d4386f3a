"""What goes wrong that a command turns into an exit code and one line on stderr (commands.guarded).

The types live here, not in the modules that raise them, so that the command line can catch them without
importing those modules: `trm-demo puzzle` loads neither the funnel, the LLM client nor the YAML loader,
and `trm-demo config` loads no model. Standard library only.

Exit code 2, bad input (`BAD_INPUT`): each message names the flag, key, file or puzzle and what to do.
Exit code 1, the environment and not a bug of ours: `WorkerDied`.
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad flags or paths: exit code 2, one line."""


class ConfigError(ValueError):
    """Bad user input: the message is one line that says what to fix."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, corrupt, or for another model.

    The message says what is wrong; `fix` says what kind of remedy applies, for the command layer to name
    the command: "create" (no such file), "recreate" (damaged or not ours), "size" (another model size),
    "path" (not a readable regular file)."""

    def __init__(self, message: str, fix: str = "recreate"):
        super().__init__(message)
        self.fix = fix


class OutputPathError(Exception):
    """An output path that must not be written: exit code 2, one line."""


class PuzzleError(ValueError):
    """A puzzle string that cannot be a 6×6 Sudoku; the message says what to fix."""


class WorkerDied(RuntimeError):
    """A worker process ended without its result (killed, or out of memory): exit code 1, one line."""


BAD_INPUT = (UsageError, ConfigError, CheckpointError, OutputPathError, PuzzleError)

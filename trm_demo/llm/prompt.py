"""The chat messages sent to the model, from a versioned template in prompts/.

A template version is a file name (prompts/v1.txt is "v1"); see that file for
its format. A template may add a [units] section ("field name: unit" lines, from v2 on):
each field is then shown with its unit, so that "budget low: 75.17" reads as $k/year. Rendering is deterministic (same request, same bytes), which the
cache relies on.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from string import Template

from .request import ReadRequest

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
SECTIONS = ("system", "user", "yes_no", "number")
OPTIONAL = ("units",)
VARIANTS = ("yes_no", "number")
_HEADER = re.compile(r"^\[(\w+)\]$")


class PromptError(ValueError):
    """A missing or malformed template: one line that says what to fix."""


def versions() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in PROMPTS_DIR.glob("*.txt")))


@lru_cache(maxsize=None)
def template(version: str) -> dict[str, str]:
    """The sections of prompts/<version>.txt, comments dropped and surrounding blank lines trimmed."""
    if version not in versions():
        raise PromptError(f"no prompt template '{version}' in {PROMPTS_DIR}; available: {', '.join(versions())}")
    sections: dict[str, list[str]] = {}
    current = None
    for line in (PROMPTS_DIR / f"{version}.txt").read_text(encoding="utf-8").splitlines():
        header = _HEADER.match(line)
        if header:
            current = sections.setdefault(header.group(1), [])
        elif not line.startswith("#") and current is not None:
            current.append(line)
    if sorted(set(sections) - set(OPTIONAL)) != sorted(SECTIONS):
        raise PromptError(f"prompt template '{version}' must have the sections {', '.join(SECTIONS)}, "
                          f"got {', '.join(sections) or 'none'}")
    return {name: "\n".join(lines).strip() for name, lines in sections.items()}


def messages(request: ReadRequest, version: str, variant: str) -> list[dict]:
    """The chat-completions `messages` asking the `variant` ("yes_no" or "number") question."""
    parts = template(version)
    units = _units(parts.get("units", ""))
    body = Template(parts["user"]).substitute(job=render_fields(request.job, units),
                                              candidate=render_fields(request.candidate, units),
                                              message=request.message.strip())
    return [{"role": "system", "content": parts["system"]},
            {"role": "user", "content": f"{body}\n\n{parts[variant]}"}]


def render_fields(fields: dict, units: dict[str, str] | None = None) -> str:
    """One '- name: value' line per field, in the caller's order (names with spaces, not underscores),
    with ' (unit)' after the value when the template gives the field a unit."""
    units = units or {}
    return "\n".join(f"- {str(name).replace('_', ' ')}: {_value(value)}"
                     + (f" ({units[name]})" if name in units else "") for name, value in fields.items())


def _units(section: str) -> dict[str, str]:
    """The [units] section's 'field: unit' lines ($$ for a dollar sign, as in the rest of the template)."""
    pairs = (line.split(":", 1) for line in section.splitlines() if ":" in line)
    return {name.strip(): unit.strip().replace("$$", "$") for name, unit in pairs}


def _value(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"   # a model reads "52.5", not "52.500000000000007"
    return str(value)

"""The command line's one mapping of expected failures to one line on stderr and an exit status.

A command lets them propagate; ``qualibot.cli.main`` reports them as ``qualibot COMMAND: message``
(status 1, or 2 for a setting that is wrong) instead of a traceback. Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

from pydantic import ValidationError

from flows.errors import QualibotError
from storage.errors import DatabaseProblem

_SHOWN = 120
CONFIG_STATUS = 2


def shown(text: str, limit: int = _SHOWN) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters: a typo is worth echoing, a page
    of garbage is not."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


# The environment prefix of each settings class (``env_prefix`` of its model_config).
_ENV_PREFIXES = {
    "Settings": "QUALIBOT_",
    "ApiSettings": "QUALIBOT_",
    "HandoffSettings": "QUALIBOT_",
    "TelegramSettings": "QUALIBOT_TELEGRAM_",
}


def settings_message(exc: ValidationError) -> str:
    """A settings class's validation errors in one line, naming the environment variables (the
    fields of a class not listed here, and what is wrong with several fields together, as such)."""
    prefix = _ENV_PREFIXES.get(exc.title)
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if not field:
            parts.append(message)
            continue
        name = f"{prefix}{field.upper()}" if prefix is not None else f"{field} ({exc.title})"
        parts.append(f"{name}: {message}")
    return "bad setting " + "; ".join(parts)


def one_line(exc: BaseException) -> tuple[str, int] | None:
    """The message and exit status for an expected failure, or None for anything else."""
    if isinstance(exc, DatabaseProblem | QualibotError):
        return str(exc), 1
    if isinstance(exc, ValidationError) and exc.title.endswith("Settings"):
        return settings_message(exc), CONFIG_STATUS
    return None

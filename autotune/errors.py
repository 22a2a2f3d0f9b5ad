"""The small error tree of autotune.

Every error a user can cause is an ``InputError``: the CLI prints its message on one line and
exits with code 2. Library errors are translated at the boundary with ``raise ... from e``.
"""


class AutotuneError(Exception):
    """Base class of every error autotune raises on purpose."""


class InputError(AutotuneError):
    """A value the user gave is not accepted; the message names it and what would be."""


class DeploymentError(InputError):
    """A compiled model cannot be deployed as asked (does not fit its group or device memory)."""


def choice_error(what: str, value: object, accepted: list[str] | tuple[str, ...]) -> InputError:
    """An ``InputError`` for a value that is not one of a fixed set of names."""
    return InputError(f"unknown {what} {value!r}; accepted: {', '.join(accepted)}")


class NotFoundError(InputError):
    """A study (or another named thing) the user asked for does not exist."""


class ConflictError(InputError):
    """A name the user asked for is already taken (a study of that name exists)."""

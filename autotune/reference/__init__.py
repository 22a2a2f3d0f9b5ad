"""Published measurements the emulator is fitted to and validated on, and the validation."""

from autotune.reference._published import (
    PUBLISHED_MODEL,
    PUBLISHED_PRICE_SET,
    PUBLISHED_SEQ_LEN,
    PUBLISHED_TASK,
    PublishedRow,
    published_rows,
)
from autotune.reference._validate import Validated, validate_rows

__all__ = [
    "PUBLISHED_MODEL",
    "PUBLISHED_PRICE_SET",
    "PUBLISHED_SEQ_LEN",
    "PUBLISHED_TASK",
    "PublishedRow",
    "Validated",
    "published_rows",
    "validate_rows",
]

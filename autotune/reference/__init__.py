"""Published measurements the emulator is fitted to and validated on, and the validation."""

from autotune.reference._measured import MeasuredRow, figure, measured_rows
from autotune.reference._published import (
    PUBLISHED_MODEL,
    PUBLISHED_PRICE_SET,
    PUBLISHED_SEQ_LEN,
    PUBLISHED_TASK,
    PublishedRow,
    published_rows,
)
from autotune.reference._validate import (
    MeasuredCheck,
    Validated,
    validate_measured,
    validate_rows,
)

__all__ = [
    "PUBLISHED_MODEL",
    "PUBLISHED_PRICE_SET",
    "PUBLISHED_SEQ_LEN",
    "PUBLISHED_TASK",
    "MeasuredCheck",
    "MeasuredRow",
    "PublishedRow",
    "Validated",
    "figure",
    "measured_rows",
    "published_rows",
    "validate_measured",
    "validate_rows",
]

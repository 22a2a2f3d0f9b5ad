"""Published measurements the emulator is fitted to and validated on, the validation, and how
sure the emulator is of a prediction."""

from autotune.reference._measurements import (
    Measurement,
    PublicRow,
    blog_measurements,
    measurements,
    public_rows,
    released_measurements,
)
from autotune.reference._published import (
    PUBLISHED_MODEL,
    PUBLISHED_PRICE_SET,
    PUBLISHED_SEQ_LEN,
    PUBLISHED_TASK,
    PublishedRow,
    published_rows,
)
from autotune.reference._uncertainty import Uncertainty, summarize, uncertainty
from autotune.reference._validate import (
    Validated,
    ValidationRow,
    cross_validation,
    validate_rows,
    validation_table,
)

__all__ = [
    "PUBLISHED_MODEL",
    "PUBLISHED_PRICE_SET",
    "PUBLISHED_SEQ_LEN",
    "PUBLISHED_TASK",
    "Measurement",
    "PublicRow",
    "PublishedRow",
    "Uncertainty",
    "Validated",
    "ValidationRow",
    "blog_measurements",
    "cross_validation",
    "measurements",
    "public_rows",
    "published_rows",
    "released_measurements",
    "summarize",
    "uncertainty",
    "validate_rows",
    "validation_table",
]

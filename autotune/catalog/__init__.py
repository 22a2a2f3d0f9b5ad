"""Hardware and prices as data: instance types, accelerators and named price sets."""

from autotune.catalog._catalog import (
    DEFAULT_PRICE_SET,
    Accelerator,
    Instance,
    PriceSet,
    get_instance,
    instance_names,
    load_accelerators,
    load_instances,
    load_price_sets,
    price_per_hour,
    price_set_names,
)

__all__ = [
    "DEFAULT_PRICE_SET",
    "Accelerator",
    "Instance",
    "PriceSet",
    "get_instance",
    "instance_names",
    "load_accelerators",
    "load_instances",
    "load_price_sets",
    "price_per_hour",
    "price_set_names",
]

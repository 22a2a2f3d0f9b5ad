"""Hardware generations: the seam between autotune and each kind of accelerator.

``Generation`` (``_generation.py``) is the protocol; ``neuroncore_v1`` (inf1), ``neuroncore_v2``
(inf2, trn1) and ``gpu`` are its implementations, chosen through the catalog (each accelerator
in ``hardware.yaml`` names its generation). Plans, placements and service models are the values
they exchange with the emulator. Pure Python: nothing here imports torch.
"""

from autotune.hardware._calibration import emulator_version
from autotune.hardware._generation import (
    GENERATIONS,
    Calibration,
    Generation,
    generation_of,
    load_calibration,
    parse_calibration,
)
from autotune.hardware._graph import GraphSummary, Matmul, OpCost, Value
from autotune.hardware._knobs import Dimension
from autotune.hardware._plan import Plan, Stage
from autotune.hardware._service import Placement, Server, ServiceModel
from autotune.hardware._uncertainty import regime, uncertainty_of

__all__ = [
    "GENERATIONS",
    "Calibration",
    "Dimension",
    "Generation",
    "GraphSummary",
    "Matmul",
    "OpCost",
    "Placement",
    "Plan",
    "Server",
    "ServiceModel",
    "Stage",
    "Value",
    "emulator_version",
    "generation_of",
    "load_calibration",
    "parse_calibration",
    "regime",
    "uncertainty_of",
]

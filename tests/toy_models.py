"""Tiny torch modules whose costs are known by hand."""

from __future__ import annotations

import itertools

import torch
from torch import nn

# Chain of bias-free linears; every K is a multiple of 128 and every N of 64 (the toy systolic
# array), so with the ideal calibration each matmul runs at exactly the TensorEngine peak.
WIDTHS = (128, 256, 384, 128, 512, 256, 128)
ROWS = 64


class OneLinear(nn.Module):
    def __init__(self, k: int = 256, n: int = 128, bias: bool = True):
        super().__init__()
        self.fc = nn.Linear(k, n, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class Chain(nn.Module):
    def __init__(self, widths: tuple[int, ...] = WIDTHS):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(a, b, bias=False) for a, b in itertools.pairwise(widths)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class Residual(nn.Module):
    """norm(fc(x)) + x, with a GELU after the matmul if asked."""

    def __init__(self, gelu: bool = False):
        super().__init__()
        self.fc = nn.Linear(128, 128, bias=False)
        self.norm = nn.LayerNorm(128, elementwise_affine=True)
        self.gelu = gelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)
        if self.gelu:
            h = torch.nn.functional.gelu(h)
        return self.norm(h) + x


def chain_seconds(start: int, end: int, tensor_flops: float = 1e12) -> float:
    """Engine time of linears ``start`` to ``end - 1`` of the chain at the toy peak."""
    return sum(
        2 * ROWS * k * n / tensor_flops for k, n in itertools.pairwise(WIDTHS[start : end + 1])
    )

"""Graph capture and per-operator costs on tiny modules whose costs are known by hand."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autotune.emulator import capture, op_costs
from autotune.hardware import Matmul


class OneLinear(nn.Module):
    def __init__(self, bias: bool = True):
        super().__init__()
        self.fc = nn.Linear(256, 128, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class Block(nn.Module):
    """One op per engine: matmul (Tensor), gelu (Scalar), layer norm and softmax (Vector)."""

    def __init__(self):
        super().__init__()
        self.up = nn.Linear(256, 128)
        self.norm = nn.LayerNorm(128)
        self.down = nn.Linear(128, 64, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.up(x))
        return torch.softmax(self.down(self.norm(h)), dim=-1)


def costs_of(module: nn.Module, **inputs: torch.Tensor):
    return op_costs(capture(module.eval(), inputs))


@pytest.fixture(scope="module")
def block_costs():
    return costs_of(Block(), x=torch.randn(64, 256))


def test_capture_keeps_static_input_shapes():
    program = capture(OneLinear().eval(), {"x": torch.randn(64, 256)})
    (x,) = [n for n in program.graph.nodes if n.name == "x"]
    assert tuple(x.meta["val"].shape) == (64, 256)
    assert tuple(program.graph_signature.user_inputs) == ("x",)


def test_linear_costs_2mkn_flops_its_weights_and_a_bias_add():
    (op,) = costs_of(OneLinear(), x=torch.randn(64, 256))
    assert op.target == "linear"
    assert op.matmuls == (Matmul(count=1, m=64, k=256, n=128),)
    assert op.tensor_flops == 2 * 64 * 256 * 128
    assert op.weights == (("fc.weight", 128 * 256), ("fc.bias", 128))
    assert op.weight_elements == 128 * 256 + 128
    assert op.vector_flops == 64 * 128  # the bias add, one per output element
    assert op.scalar_flops == 0
    assert op.flops == 2 * 64 * 256 * 128 + 64 * 128
    assert (op.act_in_elements, op.act_out_elements) == (64 * 256, 64 * 128)
    assert op.gather_elements == 0


def test_linear_rows_are_every_leading_dimension():
    (op,) = costs_of(OneLinear(bias=False), x=torch.randn(2, 32, 256))
    assert op.matmuls == (Matmul(1, 64, 256, 128),)
    assert op.vector_flops == 0  # no bias, no element-wise work
    assert op.weights == (("fc.weight", 128 * 256),)


def test_engine_assignment(block_costs):
    by_name = {op.name: op for op in block_costs}
    assert [op.target for op in block_costs] == [
        "linear",
        "gelu",
        "layer_norm",
        "linear",
        "softmax",
    ]
    up, gelu, norm, down, softmax = (
        by_name[n] for n in ("linear", "gelu", "layer_norm", "linear_1", "softmax")
    )
    # TensorEngine: only the two matrix multiplies.
    assert [op.name for op in block_costs if op.matmuls] == ["linear", "linear_1"]
    assert up.tensor_flops == 2 * 64 * 256 * 128
    assert down.tensor_flops == 2 * 64 * 128 * 64
    # ScalarEngine: the transcendental activation, 8 FLOPs per element.
    assert (gelu.scalar_flops, gelu.vector_flops, gelu.tensor_flops) == (64 * 128 * 8, 0, 0)
    # VectorEngine: normalisation (8 per element) and softmax (5 per element).
    assert (norm.vector_flops, norm.scalar_flops) == (64 * 128 * 8, 0)
    assert norm.weights == (("norm.weight", 128), ("norm.bias", 128))
    assert (softmax.vector_flops, softmax.scalar_flops) == (64 * 64 * 5, 0)
    assert down.vector_flops == 0  # bias-free matmul


def test_layout_operators_cost_nothing():
    class Relabel(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(128, 64)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = x.view(2, 32, 128).transpose(0, 1).contiguous().reshape(64, 128)
            return self.fc(y)

    costs = costs_of(Relabel(), x=torch.randn(64, 128))
    assert [op.target for op in costs] == ["linear"]
    assert costs[0].act_in_elements == 64 * 128


@pytest.mark.parametrize("fn", [torch.matmul, torch.bmm], ids=["matmul", "bmm"])
def test_batched_matmul_counts_every_product(fn):
    class Product(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return fn(a, b)

    (op,) = costs_of(Product(), a=torch.randn(4, 32, 64), b=torch.randn(4, 64, 16))
    assert op.matmuls == (Matmul(count=4, m=32, k=64, n=16),)
    assert op.tensor_flops == 2 * 4 * 32 * 64 * 16
    assert op.weights == ()
    assert op.act_in_elements == 4 * 32 * 64 + 4 * 64 * 16


def test_attention_is_two_matmuls_and_a_softmax():
    class Attention(nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    q = torch.randn(2, 4, 16, 8)  # batch 2, 4 heads, 16 positions, head dim 8
    (op,) = costs_of(Attention(), q=q, k=torch.randn_like(q), v=torch.randn_like(q))
    heads = 2 * 4
    assert op.matmuls == (Matmul(heads, 16, 8, 16), Matmul(heads, 16, 16, 8))
    assert op.tensor_flops == 2 * (2 * heads * 16 * 8 * 16)
    assert op.vector_flops == heads * 16 * 16 * 7  # scale, mask and 5-FLOP softmax per score


def test_embedding_gathers_rows_and_owns_no_streamed_weight():
    class Lookup(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = nn.Embedding(100, 32)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.table(ids)

    (op,) = costs_of(Lookup(), ids=torch.randint(0, 100, (2, 5)))
    assert op.target == "embedding"
    assert op.gather_elements == 2 * 5 * 32
    assert op.weights == ()  # tables are gathered from DRAM, never cached as weights
    assert op.flops == 0


def test_a_shared_weight_is_counted_at_its_first_use_only():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 64, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.relu(self.fc(x)))

    first, relu, second = costs_of(Tied(), x=torch.randn(8, 64))
    assert first.weights == (("fc.weight", 64 * 64),)
    assert second.weights == ()
    assert first.tensor_flops == second.tensor_flops == 2 * 8 * 64 * 64
    assert relu.scalar_flops == 8 * 64


def test_real_model_costs():
    """bert-base: ~110M parameters; FLOPs per layer dominated by its six big matmuls."""
    from autotune.models import resolve_model
    from autotune.models.build import build_model, example_inputs

    source = resolve_model("bert-base-uncased")
    program = capture(build_model(source, meta=True), example_inputs(source, 1, 128, meta=True))
    costs = op_costs(program)
    weights = sum(op.weight_elements for op in costs)
    # Per layer: Q, K, V, O (768 x 768 + bias), two layer norms, the FFN (768 x 3072 both ways,
    # with biases). Plus the embedding layer norm and the QA head; the tables are gathered.
    layer = 4 * (768 * 768 + 768) + 2 * 2 * 768 + 768 * 3072 + 3072 + 3072 * 768 + 768
    assert weights == 12 * layer + 2 * 768 + (768 * 2 + 2)
    gathers = [op for op in costs if op.target == "embedding"]
    assert len(gathers) == 3  # word, position, token type
    linear_flops = sum(op.tensor_flops for op in costs if op.target == "linear")
    # 12 layers x (4 x 768^2 + 2 x 768 x 3072) MACs per token x 128 tokens x 2, plus the head.
    assert linear_flops == 2 * 128 * (12 * (4 * 768 * 768 + 2 * 768 * 3072) + 768 * 2)

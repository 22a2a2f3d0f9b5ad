"""Plan keys: a content hash of everything that changes the compiled artifact."""

from __future__ import annotations

from autotune.catalog import get_instance
from autotune.emulator import plan_key
from autotune.values import Workload


def test_plan_key_is_a_content_hash_of_every_field():
    acc = get_instance("inf1.xlarge").accelerator
    work = Workload("bert-base-uncased", "question-answering", 128, 1)
    base = ("id", work, acc, (("pipeline_cores", 4),), "bf16", "v1")
    key = plan_key(*base)
    assert key == plan_key(*base)
    assert len(key) == 64 and int(key, 16) >= 0
    variants = [
        ("id2", *base[1:]),
        (base[0], Workload(work.model, "sequence-classification", 128, 1), *base[2:]),
        (base[0], Workload(work.model, work.task, 128, 2), *base[2:]),
        (base[0], Workload(work.model, work.task, 64, 1), *base[2:]),
        (*base[:3], (("pipeline_cores", 1),), *base[4:]),
        (*base[:2], get_instance("g4dn.xlarge").accelerator, *base[3:]),
        (*base[:4], "fp16-amp", base[5]),
        (*base[:5], "v2"),
    ]
    keys = {plan_key(*v) for v in variants}
    assert len(keys) == len(variants) and key not in keys
    # The model name is not part of the key: the identity is.
    assert plan_key("id", Workload("other", work.task, 128, 1), *base[2:]) == key

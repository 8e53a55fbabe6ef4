"""Export converts in bounded memory: a bf16 checkpoint in 4 safetensors shards is converted
and checked against its float32 reference while the process grows by at most 1.5 times its
largest shard (the whole model in float32 would be 8 shards' worth). The growth is counted
from the memory of the loaded libraries; about 300 MiB of it does not depend on the model's
size (the probe's logits, the tokenizer, the largest encoded tensor), so the checkpoint is
made large enough (~1.2 GB) for the shards to dominate."""

import pytest

from bench.gguf_export import measure_export, random_sharded_llama

pytestmark = pytest.mark.slow  # a 1.2 GB model is built and exported (about 1.5 min)


def test_export_memory_stays_near_the_largest_shard(tmp_path):
    folder = random_sharded_llama(tmp_path / "random-llama", 0.8)
    figures = measure_export(folder, "f16")
    print(figures)
    assert figures["shards"] >= 4
    assert figures["passed"] == ["F16"]
    assert figures["convert_growth_mib"] <= 1.5 * figures["largest_shard_mib"]

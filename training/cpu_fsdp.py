"""FSDP across CPU processes, so the multi-process CPU run shards like a GPU cluster does.

accelerate 1.15 honours an FSDP request only on accelerator devices: with CPU processes (gloo)
it falls back to plain data parallelism without a word, every process then holding all the
parameters and optimizer state. torch's FSDP2 itself shards on CPU with gloo, so for a run in
several CPU processes with an FSDP config this marks accelerate's state as FSDP, the state a GPU
launch gets: the Trainer then shards, checkpoints and gathers the final weights as on GPUs.

One step differs: accelerate gathers the full weights for saving with a CPU "offload" that on a
CPU copies nothing, so the gathered tensors alias FSDP's unsharded buffers, which are freed as
soon as it reshards. On CPU the full weights are therefore gathered into fresh tensors.
"""


def enable_fsdp_on_cpu() -> None:
    """Make accelerate use its FSDP plugin on CPU processes too (no effect with a GPU)."""
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import DistributedType
    from torch.distributed.fsdp import FSDPModule
    from torch.distributed.tensor import DTensor

    original = AcceleratorState.__init__
    if torch.cuda.is_available() or getattr(original, "shards_on_cpu", False):
        return

    def init(self, *args, fsdp_plugin=None, **kwargs):
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            self.fsdp_plugin = fsdp_plugin

    init.shards_on_cpu = True
    AcceleratorState.__init__ = init
    gather = Accelerator.get_state_dict

    def get_state_dict(self, model, unwrap=True):
        if not isinstance(model, FSDPModule):
            return gather(self, model, unwrap)
        gathered, copies = {}, {}
        for name, value in model.state_dict().items():
            shard = value.to_local() if isinstance(value, DTensor) else value
            key = (shard.data_ptr(), tuple(value.shape))  # tied weights share one shard
            if key not in copies or not shard.data_ptr():
                copies[key] = full_copy(value)
            gathered[name] = copies[key]
        return gathered

    Accelerator.get_state_dict = get_state_dict


def full_copy(value):
    """A sharded tensor gathered from every process (a collective), as a tensor of its own."""
    from torch.distributed.tensor import DTensor

    return value.full_tensor() if isinstance(value, DTensor) else value.detach().clone()

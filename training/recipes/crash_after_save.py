"""`python -m app` that dies by SIGKILL right after checkpoint-N is saved, as a run does when a
node is lost: every process waits until the save is complete, then kills itself.

    torchrun … training/recipes/crash_after_save.py train sft RECIPE   (CRASH_AFTER_SAVE=N)

Used by the resume test (tests/training/test_sharded.py) and the GPU smoke run (gpu_smoke.sh).
"""

import os
import signal
import sys

from transformers import Trainer, TrainerCallback


class CrashAfterSave(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_save(self, _args, state, _control, **kwargs):
        if state.global_step == self.step:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.barrier()  # the checkpoint is complete on every process
            os.kill(os.getpid(), signal.SIGKILL)


original_init = Trainer.__init__


def init_with_crash(self, *args, **kwargs):
    original_init(self, *args, **kwargs)
    self.add_callback(CrashAfterSave(int(os.environ["CRASH_AFTER_SAVE"])))


Trainer.__init__ = init_with_crash

if __name__ == "__main__":
    from app.cli import main

    sys.argv[0] = "longwrite"
    main()

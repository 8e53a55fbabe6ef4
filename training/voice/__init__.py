"""A writer's voice: a LoRA adapter trained on their own manuscripts.

`data` back-translates manuscripts into the requests the studio sends when writing (with the
writer's sections as the replies) and exports the writer's own choices as preference pairs;
`train` fits the LoRA with the SFT (and DPO) machinery and reports the held-out loss; `cli`
holds `longwrite voice data|train` and `longwrite export gguf-lora`. The GGUF adapter writer is
training.gguf.lora_adapter; the studio side (loading a voice) is engine.models.voice.
"""

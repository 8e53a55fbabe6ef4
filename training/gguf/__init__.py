"""Hugging Face checkpoint → checked GGUF files in the studio's models directory.

`checkpoint` loads (and merges LoRA), `architectures` maps tensors and hyperparameters,
`vocab` carries the tokenizer over, `convert` writes float GGUF files, `quantize` calls
llama.cpp's quantizer, `check` compares each file with the Hugging Face model, and `export`
runs the whole pipeline for the `longwrite export gguf` command in `cli`.
"""

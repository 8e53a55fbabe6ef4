"""An engine backend for a Hugging Face checkpoint (transformers generate), so data commands
can sample from a freshly trained model before it is exported to GGUF.

It implements engine.models.backends.base.Backend; replies are generated whole and yielded at once.
"""

from collections.abc import Iterator
from pathlib import Path

from engine.errors import UserError
from engine.models.backends.base import ChatRequest, Usage
from engine.models.discovery import ModelInfo


class TransformersBackend:
    """A causal LM checkpoint folder, run on CPU (or the first GPU when there is one)."""

    supports_prefill = False

    def __init__(self, checkpoint: str | Path):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(checkpoint)
        if not (folder / "config.json").is_file():
            raise UserError(key="error.not_checkpoint", path=folder)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder).to(self.device).eval()
        self.info = ModelInfo(
            name=folder.name,
            context_length=int(getattr(self.model.config, "max_position_embeddings", 4096)),
            quantization="F32",
            architecture=self.model.config.model_type,
            chat_template=self.tokenizer.chat_template,
            path=str(folder),
        )
        self.stop_ids = stop_token_ids(self.tokenizer, self.model.generation_config)
        self.last_usage = Usage()

    def _prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )

    def count_tokens(self, messages: list[dict[str, str]], prefill: str = "") -> int:
        return len(self._prompt_ids(messages)) + self.count_text_tokens(prefill)

    def count_text_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0

    def stream(self, request: ChatRequest) -> Iterator[str]:
        import time

        import torch

        if request.prefill:
            raise ValueError("TransformersBackend cannot continue a prefilled reply")
        prompt = torch.tensor([self._prompt_ids(request.messages)], device=self.device)
        room = self.info.context_length - prompt.shape[1]
        if room < 16:
            raise UserError(key="error.prompt_does_not_fit")
        sampling = request.sampling
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        started = time.perf_counter()
        with torch.no_grad():
            output = self.model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                max_new_tokens=min(request.max_tokens, room),
                do_sample=sampling.temperature > 0,
                temperature=sampling.temperature or None,
                top_p=sampling.top_p,
                top_k=sampling.top_k or None,
                min_p=sampling.min_p or None,
                repetition_penalty=sampling.repeat_penalty,
                eos_token_id=self.stop_ids,
                pad_token_id=self.tokenizer.pad_token_id or self.stop_ids[0],
            )
        reply = output[0, prompt.shape[1] :]
        self.last_usage = Usage(
            prompt_tokens_sent=prompt.shape[1],
            prompt_tokens_evaluated=prompt.shape[1],
            output_tokens=len(reply),
            decode_s=time.perf_counter() - started,
        )
        yield self.tokenizer.decode(reply, skip_special_tokens=True)

    def close(self) -> None:
        del self.model


def stop_token_ids(tokenizer, generation_config) -> list[int]:
    """Token ids that end a reply: the special token the chat template puts after an assistant
    turn (e.g. Llama 3's <|eot_id|>), then the tokenizer's and the model's own EOS ids (a base
    Llama-3.1 generation config stops only on <|end_of_text|>)."""
    marker = "Reply ends here."
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": marker}],
        tokenize=False,
    )
    after = text[text.rfind(marker) + len(marker) :]
    specials = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    turn_end = [i for i in tokenizer(after, add_special_tokens=False).input_ids if i in specials]
    configured = generation_config.eos_token_id
    configured = configured if isinstance(configured, list) else [configured]
    ids = [*turn_end[:1], tokenizer.eos_token_id, *configured]
    return list(dict.fromkeys(i for i in ids if i is not None))

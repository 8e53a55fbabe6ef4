"""An engine backend for a Hugging Face checkpoint (transformers generate), so data commands
can sample from a freshly trained model before it is exported to GGUF.

It implements engine.backends.base.Backend; replies are generated whole and yielded at once.
"""

from collections.abc import Iterator
from pathlib import Path

from engine.backends.base import ChatRequest, Usage
from engine.errors import UserError
from engine.models import ModelInfo


class TransformersBackend:
    """A causal LM checkpoint folder, run on CPU (or the first GPU when there is one)."""

    supports_prefill = False

    def __init__(self, checkpoint: str | Path):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(checkpoint)
        if not (folder / "config.json").is_file():
            raise UserError(
                f"{folder} is not a Hugging Face checkpoint (no config.json); give the folder "
                "`longwrite train sft` wrote."
            )
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
            raise UserError("The prompt does not fit this model's context; shorten it.")
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
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
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

"""Local GGUF models through llama-cpp-python, laid out so llama.cpp can reuse its KV cache.

Prompts are rendered with the chat template stored in the GGUF and tokenized here, so the
token prefix shared with the previous request is known exactly: llama-cpp-python then skips
evaluating that prefix, and `last_usage` reports tokens sent versus tokens evaluated.
"""

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import Llama, LlamaGrammar
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from engine.errors import UserError
from engine.models import hardware
from engine.models.backends.base import ChatRequest, Usage
from engine.models.backends.no_repeat import NoRepeatNgram
from engine.models.discovery import read_model_info
from engine.models.load_plan import plan_load
from engine.models.settings import LoadSettings
from engine.models.voice import check_voice

log = logging.getLogger(__name__)

# Used only for a GGUF that carries no chat template of its own.
_CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


MAX_SILENT_TOKENS = 48  # tokens in a row that yield no text before a reply is ended

# Control tokens that end an assistant turn in some chat format. llama.cpp knows most by name,
# but a GLM-4 GGUF marks only <|user|> as end of turn, and GLM-4 also ends a turn with
# <|observation|> (a tool call). Any of these that llama.cpp does not end on is stopped on here.
END_OF_TURN_TEXTS = ("<|eot_id|>", "<|eom_id|>", "<|user|>", "<|observation|>", "<|im_end|>")

_KV_CACHE_TYPES = {"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0}


def default_threads() -> int:
    """LONGWRITE_THREADS if set, else all cores but one.

    llama.cpp's threads wait for each other at every layer: when another program (the browser,
    the studio's own server) takes a core, a thread per core stalls the whole decode, measured
    here at a tenth of the one-thread speed. One core left free avoids that cliff.
    """
    configured = os.environ.get("LONGWRITE_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, (os.cpu_count() or 2) - 1)


class LlamaCppBackend:
    """A GGUF model in this process; one generation at a time."""

    supports_prefill = True

    def __init__(
        self,
        model_path: Path,
        settings: LoadSettings | None = None,
    ):
        """Load the GGUF at model_path after checking it fits, as settings say (their
        model_path and base_url are open_backend's business): n_ctx None picks the model's
        trained length capped by free memory and MAX_DEFAULT_CONTEXT. Where the model goes is
        logged at INFO on this module's logger; the command line shows it on stderr."""
        settings = settings or LoadSettings()
        info = read_model_info(model_path)
        if settings.voice_path:
            check_voice(Path(settings.voice_path), model_path)
        self.placement = plan_load(
            info,
            settings,
            hardware.free_ram_bytes(),
            hardware.gpus(),
            hardware.free_vram_bytes(),
        )
        log.info(self.placement.summary())
        cache_type = _KV_CACHE_TYPES[settings.kv_cache]
        try:
            self.llm = Llama(
                model_path=str(model_path),
                n_ctx=self.placement.n_ctx,
                n_batch=512,
                n_threads=settings.n_threads or default_threads(),
                n_gpu_layers=self.placement.gpu_layers,
                flash_attn=self.placement.flash_attn,
                type_k=cache_type,
                type_v=cache_type,
                last_n_tokens_size=256,
                lora_path=settings.voice_path or None,
                lora_scale=settings.voice_scale,
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise UserError(key="error.llama_load", path=model_path, problem=error) from None
        self.info = info.__class__(**{**info.__dict__, "context_length": self.llm.n_ctx()})
        # (adapter file, scale) when a voice applies: a writing run records it in its stats
        self.voice = (settings.voice_path, settings.voice_scale) if settings.voice_path else None
        self.last_usage = Usage()
        self._lock = threading.Lock()
        self._end_tokens, self._extra_end_tokens = self._turn_enders()
        vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
        self._bos_text = self._token_text(self.llm.token_bos())
        self._formatter = Jinja2ChatFormatter(
            template=info.chat_template or _CHATML,
            eos_token=self._token_text(self.llm.token_eos()),
            bos_token=self._bos_text,
        )

    def _turn_enders(self) -> tuple[np.ndarray, frozenset[int]]:
        """Every token that ends a reply, and those of them llama.cpp would not stop on."""
        vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        eog = {t for t in range(self.llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)}
        extra = set()
        for text in END_OF_TURN_TEXTS:
            ids = self.llm.tokenize(text.encode(), add_bos=False, special=True)
            if len(ids) == 1 and ids[0] not in eog:
                extra.add(ids[0])
        return np.array(sorted(eog | extra), dtype=np.intc), frozenset(extra)

    def _ended_turn(self, input_ids: np.ndarray, _logits: np.ndarray) -> bool:
        """Stopping criterion: the last token taken was an end of turn llama.cpp does not know."""
        return len(input_ids) > 0 and int(input_ids[-1]) in self._extra_end_tokens

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def render(self, messages: list[dict[str, str]], prefill: str = "") -> str:
        """The prompt text: the chat template with a generation prompt, then any prefill."""
        return self._formatter(messages=messages).prompt + prefill

    def tokens(self, messages: list[dict[str, str]], prefill: str = "") -> list[int]:
        text = self.render(messages, prefill)
        tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if self._add_bos and not (self._bos_text and text.startswith(self._bos_text)):
            tokens.insert(0, self.llm.token_bos())
        return tokens

    def count_tokens(self, messages: list[dict[str, str]], prefill: str = "") -> int:
        return len(self.tokens(messages, prefill))

    def count_text_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, request: ChatRequest) -> Iterator[str]:
        with self._lock:
            tokens = self.tokens(request.messages, request.prefill)
            room = self.llm.n_ctx() - len(tokens)
            if room < 16:
                raise UserError(
                    key="error.prompt_too_long", tokens=len(tokens), context=self.llm.n_ctx()
                )
            cached = Llama.longest_token_prefix(self.llm._input_ids.tolist(), tokens)
            usage = Usage(
                prompt_tokens_sent=len(tokens),
                prompt_tokens_evaluated=max(1, len(tokens) - cached),
            )
            self.last_usage = usage
            started = time.perf_counter()
            first_token_at: list[float] = []

            # A grammar already decides which tokens may come next; banning EOS or n-grams on
            # top of it can leave no legal token, and llama.cpp aborts the process.
            constrained = request.json_schema is not None

            tokens_at_last_text = [0]

            def guard(_input_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
                if not first_token_at:
                    first_token_at.append(time.perf_counter())
                usage.output_tokens += 1
                if constrained:
                    return logits
                if usage.output_tokens - tokens_at_last_text[0] > MAX_SILENT_TOKENS:
                    # Bytes that never become valid UTF-8 (a small model's broken Chinese):
                    # llama-cpp-python re-decodes them at every step and stalls; end the reply.
                    logits[:] = -np.inf
                    logits[self.llm.token_eos()] = 0.0
                elif request.keep_going is not None and request.keep_going():
                    logits[self._end_tokens] = -np.inf
                return logits

            processors = []
            if request.no_repeat_ngram and not constrained:
                # the prompt without the prefill: a continued reply stays covered
                skip = len(self.tokens(request.messages, "")) if request.no_repeat_reply_only else 0
                processors.append(NoRepeatNgram(request.no_repeat_ngram, skip))
            processors.append(guard)  # last, so its end-of-reply decisions stand
            sampling = request.sampling
            chunks = self.llm.create_completion(
                prompt=tokens,
                max_tokens=min(request.max_tokens, room),
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                min_p=sampling.min_p,
                top_k=sampling.top_k,
                repeat_penalty=sampling.repeat_penalty,
                frequency_penalty=sampling.frequency_penalty,
                presence_penalty=sampling.presence_penalty,
                seed=sampling.seed,
                stop=request.stop or None,
                grammar=self._grammar(request.json_schema),
                logits_processor=llama_cpp.LogitsProcessorList(processors),
                stopping_criteria=llama_cpp.StoppingCriteriaList([self._ended_turn])
                if self._extra_end_tokens
                else None,
                stream=True,
            )
            try:
                for chunk in chunks:
                    text = chunk["choices"][0]["text"]
                    if text:
                        tokens_at_last_text[0] = usage.output_tokens
                        yield text
            finally:
                chunks.close()
                ended = time.perf_counter()
                first = first_token_at[0] if first_token_at else ended
                usage.prompt_s, usage.decode_s = first - started, ended - first

    @staticmethod
    def _grammar(schema: dict | None) -> LlamaGrammar | None:
        if schema is None:
            return None
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)

    def close(self) -> None:
        self.llm.close()

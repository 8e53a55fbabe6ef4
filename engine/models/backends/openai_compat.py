"""Any OpenAI-compatible server (vLLM, llama.cpp server, …) through the openai client.

The server keeps its own prefix cache (vLLM prefix caching, llama.cpp `cache_prompt`), so this
backend sends whole conversations and reports what the server says it evaluated when it says it.
"""

import time
from collections.abc import Iterator

import openai

from engine.errors import UserError
from engine.models.backends.base import ChatRequest, Usage
from engine.models.discovery import ModelInfo
from engine.models.server_probe import server_context

DEFAULT_SERVER_CONTEXT = 32_768
SCHEMA_STYLES = ("json_schema", "json_object")


def _response_format(style: str, schema: dict) -> dict:
    """The response_format asking a server for JSON matching schema, in one server's dialect."""
    if style == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    return {"type": "json_object", "schema": schema}


class OpenAICompatBackend:
    """A model served over the OpenAI chat-completions API."""

    supports_prefill = False

    def __init__(
        self, base_url: str, model_name: str, api_key: str = "none", n_ctx: int | None = None
    ):
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=600, max_retries=1)
        try:
            served = [model.id for model in self.client.models.list()]
        except openai.APIConnectionError:
            raise UserError(key="error.server_unreachable", url=base_url) from None
        except openai.APIError as error:
            raise UserError(key="error.server_error", url=base_url, problem=error) from None
        if served and model_name not in served:
            raise UserError(
                key="error.model_not_served",
                url=base_url,
                model=model_name,
                served=", ".join(served),
            )
        self.model_name = model_name
        self.info = ModelInfo(
            name=model_name,
            # KoboldCpp and llama.cpp's server cut a prompt over their context from the front:
            # the context they report is what the engine's trimming must fit.
            context_length=n_ctx or server_context(base_url, model_name) or DEFAULT_SERVER_CONTEXT,
            quantization="served",
            architecture="remote",
            chat_template=None,
            path=base_url,
        )
        self.last_usage = Usage()
        self._schema_styles = list(SCHEMA_STYLES)

    def count_tokens(self, messages: list[dict[str, str]], prefill: str = "") -> int:
        text = "".join(m["content"] for m in messages) + prefill
        return self.count_text_tokens(text) + 8 * len(messages)

    def count_text_tokens(self, text: str) -> int:
        """An estimate (4 characters a token, 1 per CJK character): servers differ in tokenizers."""
        cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
        return cjk + (len(text) - cjk) // 4

    def stream(self, request: ChatRequest) -> Iterator[str]:
        if request.prefill:
            raise ValueError("OpenAI-compatible servers cannot continue a prefilled reply")
        sampling = request.sampling
        extra: dict = {
            "min_tokens": request.min_tokens,
            "repetition_penalty": sampling.repeat_penalty,  # vLLM's name
            "repeat_penalty": sampling.repeat_penalty,  # llama.cpp's name
            "min_p": sampling.min_p,
            "top_k": sampling.top_k,
        }
        if request.no_repeat_ngram:
            # No server takes a no-repeat-n-gram rule; llama.cpp's server has the DRY sampler,
            # which penalises continuing any sequence already in the context.
            extra.update(dry_multiplier=0.8, dry_base=1.75, dry_allowed_length=3)
        kwargs: dict = {}
        schema_styles = self._schema_styles if request.json_schema is not None else []
        if schema_styles:
            kwargs["response_format"] = _response_format(schema_styles[0], request.json_schema)
        usage = Usage(prompt_tokens_sent=self.count_tokens(request.messages))
        self.last_usage = usage
        started = time.perf_counter()
        first = None
        try:
            response = self.client.chat.completions.create(
                model=self.model_name,
                messages=request.messages,
                max_tokens=request.max_tokens,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                frequency_penalty=sampling.frequency_penalty,
                presence_penalty=sampling.presence_penalty,
                seed=sampling.seed,
                stop=request.stop or None,
                stream=True,
                stream_options={"include_usage": True},
                extra_body=extra,
                **kwargs,
            )
        except openai.APIConnectionError:
            raise UserError(key="error.server_stopped") from None
        except openai.APIStatusError as error:
            if not schema_styles:
                raise UserError(key="error.server_refused", problem=error) from None
            # Servers differ in how they take a schema (vLLM: json_schema; llama-cpp-python:
            # json_object + schema); try the next style, and at last a plain reply, which the
            # plan parser reads in the classic text form.
            self._schema_styles = schema_styles[1:]
            yield from self.stream(request)
            return
        usage.prompt_tokens_evaluated = usage.prompt_tokens_sent  # unless the server says less
        try:
            with response:
                for chunk in response:
                    if chunk.usage is not None:
                        self._read_usage(chunk.usage, usage)
                    if chunk.choices and chunk.choices[0].delta.content:
                        if first is None:
                            first = time.perf_counter()
                        if not chunk.usage:
                            usage.output_tokens += 1
                        yield chunk.choices[0].delta.content
        finally:  # also when the caller stops reading early
            ended = time.perf_counter()
            usage.prompt_s, usage.decode_s = (first or ended) - started, ended - (first or ended)

    @staticmethod
    def _read_usage(reported, usage: Usage) -> None:
        usage.prompt_tokens_sent = reported.prompt_tokens
        details = getattr(reported, "prompt_tokens_details", None)
        cached = getattr(details, "cached_tokens", None)
        if cached is not None:
            usage.prompt_tokens_evaluated = max(reported.prompt_tokens - cached, 0)
        else:
            usage.prompt_tokens_evaluated = reported.prompt_tokens
        usage.output_tokens = reported.completion_tokens

    def close(self) -> None:
        self.client.close()

"""A tiktoken vocabulary (GLM-4's tokenizer.model: a base64 token and its rank on each line) as a
transformers fast tokenizer, with BPE merges recovered from the ranks as llama.cpp does."""

import base64
import json
from pathlib import Path

from engine.errors import UserError
from training.gguf.vocab import _LLAMA3_SPLIT

# GLM-4's tiktoken split pattern is Llama 3's
GLM4_SPLIT = _LLAMA3_SPLIT
# GLM-4's special tokens, numbered from the first id after the ranks: the ids a
# tokenizer_config.json without `added_tokens_decoder` leaves to the remote code
GLM4_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "[MASK]",
    "[gMASK]",
    "[sMASK]",
    "<sop>",
    "<eop>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|observation|>",
    "<|begin_of_image|>",
    "<|end_of_image|>",
    "<|begin_of_video|>",
    "<|end_of_video|>",
)


def read_ranks(path: Path) -> dict[bytes, int]:
    """Token bytes → rank, or a one-line error naming the first line that is not 'base64 rank'."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as error:
        raise UserError(key="error.checkpoint_file", path=path, problem=error.strerror) from None
    ranks = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            token, rank = line.decode("ascii").split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except ValueError:  # also binascii.Error and UnicodeDecodeError
            raise UserError(key="error.tiktoken_file", path=path, line=number) from None
    return ranks


def recover_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """One merge per multi-byte token, in rank order: the two pieces byte-pair encoding with
    only lower-ranked merges leaves of it. Tokens BPE cannot reach in two pieces get none."""
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) > 1:
            pieces = _pieces_below(ranks, token, rank)
            if len(pieces) == 2:
                merges.append((pieces[0], pieces[1]))
    return merges


def _pieces_below(ranks: dict[bytes, int], token: bytes, limit: int) -> list[bytes]:
    """token's bytes merged pair by pair (lowest rank first, leftmost on a tie) below limit."""
    pieces = [token[i : i + 1] for i in range(len(token))]
    while len(pieces) > 1:
        candidates = [
            (ranks[left + right], index)
            for index, (left, right) in enumerate(zip(pieces, pieces[1:], strict=False))
            if left + right in ranks
        ]
        if not candidates or min(candidates)[0] >= limit:
            break
        index = min(candidates)[1]
        pieces[index : index + 2] = [pieces[index] + pieces[index + 1]]
    return pieces


def load_tiktoken_tokenizer(folder: Path):
    """folder's tokenizer.model and tokenizer_config.json (special tokens by id, EOS, pad, chat
    template) as a PreTrainedTokenizerFast that splits and merges like tiktoken."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    settings = _tokenizer_config(folder)
    ranks = read_ranks(folder / "tokenizer.model")
    byte_text = bytes_to_unicode()

    def text(token: bytes) -> str:
        return "".join(byte_text[byte] for byte in token)

    specials = _special_tokens(settings, max(ranks.values()) + 1)
    vocab = {text(token): rank for token, rank in ranks.items()}
    vocab.update({content: token_id for token_id, content in specials.items()})
    merges = [(text(left), text(right)) for left, right in recover_merges(ranks)]
    # tiktoken takes a split that is a whole token as it is, before any merging
    backend = Tokenizer(models.BPE(vocab, merges, ignore_merges=True))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GLM4_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(
        [AddedToken(content, special=True, normalized=False) for content in specials.values()]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=_content(settings.get("eos_token")),
        pad_token=_content(settings.get("pad_token")),
    )
    template = folder / "chat_template.jinja"
    tokenizer.chat_template = settings.get("chat_template") or (
        template.read_text(encoding="utf-8") if template.is_file() else None
    )
    return tokenizer


def _tokenizer_config(folder: Path) -> dict:
    path = folder / "tokenizer_config.json"
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(key="error.checkpoint_file", path=path, problem=error) from None
    return settings


def _special_tokens(settings: dict, first_id: int) -> dict[int, str]:
    listed = settings.get("added_tokens_decoder")
    if isinstance(listed, dict) and listed:
        return {int(token_id): entry["content"] for token_id, entry in listed.items()}
    return {first_id + i: content for i, content in enumerate(GLM4_SPECIAL_TOKENS)}


def _content(token) -> str | None:
    """A special token as tokenizer_config.json writes it: a string or {'content': …}."""
    return token.get("content") if isinstance(token, dict) else token

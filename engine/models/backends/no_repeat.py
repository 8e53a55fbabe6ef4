"""A logits processor that forbids repeating any n-token sequence already in the context.

Small models fall into loops and restart sections with sentences they already wrote. Banning
the token that would complete an n-gram seen anywhere in the prompt or the reply (the
no-repeat-n-gram rule) stops that at the source; llama-cpp-python's high-level API exposes no
DRY sampler, and this rule also sees the previous sections, which live in the prompt.
"""

from collections import defaultdict

import numpy as np


class NoRepeatNgram:
    """Callable for llama-cpp-python's LogitsProcessorList; one instance per request."""

    def __init__(self, n: int, skip: int = 0):
        """`skip` leading prompt tokens are exempt: a revision may reuse its source's wording."""
        self.n = n
        self.skip = skip
        self.followers: dict[tuple[int, ...], set[int]] = defaultdict(set)
        self.tokens: list[int] = []

    def __call__(self, input_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        input_ids = input_ids[self.skip :]
        seen = len(self.tokens)
        if len(input_ids) < seen or input_ids[seen - 1 : seen].tolist() != self.tokens[-1:]:
            self.followers.clear()
            self.tokens, seen = [], 0
        self.tokens.extend(input_ids[seen:].tolist())
        n, tokens = self.n, self.tokens
        for end in range(max(seen, n - 1), len(tokens)):
            self.followers[tuple(tokens[end - n + 1 : end])].add(tokens[end])
        banned = self.followers.get(tuple(tokens[len(tokens) - n + 1 :]))
        if banned:
            logits[list(banned)] = -np.inf
        return logits

"""A few seeded random sequences of bench.multitab in CI: three tabs, random actions, the
invariants checked after every step (the bench runs 50 sequences of 30 steps)."""

import pytest

from bench import multitab

pytestmark = pytest.mark.slow


def test_random_actions_in_three_tabs_keep_every_invariant():
    result = multitab.run(sequences=2, steps=10, seed=1, rate=400.0)
    assert result.sequences == 2 and result.checks == 2 * 10 * len(multitab.INVARIANTS)
    assert result.failures == []

"""The studio's generations at once: the gate follows the model's limit, first come first
served, and the model host lends each running generation its own backend, closing none in use."""

import threading
import time

import pytest

from app.studio.gate import Gate
from app.studio.model_host import ModelHost
from app.studio.state import Studio
from engine.models.parallel import DEFAULT_SERVER_SLOTS
from engine.models.settings import LoadSettings
from harness.fake_backend import FakeBackend
from harness.fake_openai import FakeOpenAI

SERVER = LoadSettings(base_url="http://127.0.0.1:9/v1", model_name="m")


def _hold(gate: Gate, token: str, entered: list, release: threading.Event) -> threading.Thread:
    def hold() -> None:
        with gate.turn(token) as waiting:
            for _ in waiting:
                pass
            entered.append(token)
            release.wait(10)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    return thread


def _until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_gate_lets_in_as_many_as_the_limit_in_the_order_they_came():
    limit = [2]
    gate = Gate(lambda: limit[0])
    entered, release = [], threading.Event()
    threads = []
    for token in "abcd":
        threads.append(_hold(gate, token, entered, release))
        time.sleep(0.05)  # a, b, c, d arrive in this order
    _until(lambda: len(entered) == 2)
    time.sleep(0.2)
    assert entered == ["a", "b"] and gate.running == 2
    limit[0] = 1  # the writer chose a model in this process: one at a time from now on
    gate.changed()
    release.set()
    for thread in threads:
        thread.join(5)
    assert entered == ["a", "b", "c", "d"] and gate.running == 0


def test_under_a_limit_of_one_no_two_ever_hold_the_gate_together():
    gate = Gate(lambda: 1)
    holding, most = [0], [0]
    lock = threading.Lock()

    def work(token: int) -> None:
        with gate.turn(token) as waiting:
            for _ in waiting:
                pass
            with lock:
                holding[0] += 1
                most[0] = max(most[0], holding[0])
            time.sleep(0.02)
            with lock:
                holding[0] -= 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most[0] == 1 and gate.running == 0


def test_a_waiter_that_gives_up_frees_its_place_and_says_its_wait():
    gate = Gate(lambda: 1)
    with gate.turn("first") as waiting:
        assert list(waiting) == []  # in at once
        with gate.turn("second") as second:
            steps = iter(second)
            next(steps)  # still waiting after one step: the first holds the only place
        # the second left before its turn; nothing of it stays in the line
        assert gate.running == 1
    with gate.turn("third") as waiting:
        assert list(waiting) == [] and gate.running == 1
    assert gate.running == 0


def test_the_studio_queue_says_each_waiting_press_its_place(db_path):
    host = ModelHost(SERVER, opener=lambda _spec: FakeBackend(), parallel=2)
    studio = Studio(db_path, host)
    tickets = [studio.press(f"page{n}") for n in range(4)]
    assert [studio.place(ticket) for ticket in tickets] == [1, 2, 3, 4]
    turns = [studio.turn(ticket) for ticket in tickets[:2]]
    for turn in turns:
        assert list(turn.__enter__()) == []  # two slots: both start at once
    # every slot taken: the running jobs count as one place ahead of the waiting ones
    assert [studio.place(ticket) for ticket in tickets[2:]] == [2, 3]
    for turn in turns:
        turn.__exit__(None, None, None)
    assert [studio.place(ticket) for ticket in tickets[2:]] == [1, 2]


def test_the_limit_follows_the_chosen_model():
    assert ModelHost(LoadSettings(), parallel=8).slots() == 1  # in this process: one
    assert ModelHost(SERVER, parallel=3).slots() == 3
    assert ModelHost(SERVER).slots() == DEFAULT_SERVER_SLOTS  # nothing answers on port 9
    with FakeOpenAI("llamacpp", slots=6) as server:
        spec = LoadSettings(base_url=server.url, model_name=server.model_id)
        host = ModelHost(LoadSettings(), parallel=None)
        assert host.slots() == 1
        host.choose(spec)
        assert host.slots() == 6  # the server's /props
        host.close()


class Closable(FakeBackend):
    closed = False

    def close(self) -> None:
        self.closed = True


def test_each_generation_borrows_its_own_backend_and_a_switch_closes_none_in_use():
    host = ModelHost(SERVER, opener=lambda _spec: Closable(), parallel=2)
    with host.lease() as first, host.lease() as second:
        assert first is not second
        host.spec = SERVER.model_copy(update={"model_name": "other"})  # a switch mid-run
        assert not first.closed and not second.closed
        with host.lease() as third:
            assert third not in (first, second)
    assert first.closed and second.closed  # given back after the switch: closed
    assert not third.closed  # the chosen model's: kept for the next generation
    with host.lease() as again:
        assert again is third
    host.close()
    assert third.closed


@pytest.mark.parametrize("value", ["0", "-2"])
def test_parallel_below_one_is_refused_in_one_line(value, db_path):
    from click.testing import CliRunner

    from app.cli import cli

    result = CliRunner().invoke(cli, ["studio", "--db", str(db_path), "--parallel", value])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: --parallel takes a number of generations at once, 1 or more (e.g. --parallel 4)."
    ]

"""bench/parallel.py: four writers on a served model finish sooner all at once than in turn."""

from bench.parallel import run


def test_four_sessions_at_once_reach_four_in_flight_and_finish_sooner():
    result = run(sessions=4, sections=2, hold_s=0.2)
    one, many = result["runs"]
    assert one["at_once"] == 1 and one["max_in_flight"] == 1
    assert many["at_once"] == 4 and many["max_in_flight"] == 4  # the server's 4 slots
    assert one["requests"] == many["requests"] == 8
    assert one["words"] == many["words"] > 0
    assert many["total_s"] < 0.6 * one["total_s"]

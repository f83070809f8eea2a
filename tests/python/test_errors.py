"""Error paths of the myriad backend, on real processes: every rank raises
(no hang) when ranks disagree on a shape, a bounded wait raises when it
runs out, a killed rank makes the others raise naming it, and bad
arguments raise at the call naming the dtype or reduction."""

import signal

from ranks import describe, run_ranks


def scenario(name, ranks=2):
    return run_ranks(ranks, ["tests/python/error_worker.py", name], timeout=120)


def test_mismatched_shapes_raise_on_every_rank():
    results = scenario("mismatch", ranks=3)
    assert all(r.returncode == 0 for r in results), describe(results)


def test_wait_with_timeout_raises_when_it_runs_out():
    results = scenario("wait_timeout")
    assert all(r.returncode == 0 for r in results), describe(results)


def test_killed_rank_makes_the_others_raise():
    results = scenario("killed_peer", ranks=3)
    assert results[1].returncode == -signal.SIGKILL, describe(results)
    assert results[0].returncode == 0 and results[2].returncode == 0, describe(results)


def test_unsupported_dtype_and_reduction_raise_naming_them():
    results = scenario("bad_arguments")
    assert all(r.returncode == 0 for r in results), describe(results)

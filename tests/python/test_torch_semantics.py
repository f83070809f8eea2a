"""What torch expects of a CPU backend, on the myriad backend, on real
processes (torch_semantics_worker.py): a wait inside a Future callback or a
comm hook does not deadlock (PowerSGD trains as on gloo), a hung wait
raises "Timed out" at its timeout, and PREMUL_SUM, all_gather_coalesced
and sparse all-reduce give the expected values, dist.recv() without src
returns the sender's rank and its data, and dist.monitored_barrier passes or
names the ranks that did not come, as on gloo."""

import pytest

from ranks import describe, run_ranks


def scenario(name, ranks=2):
    results = run_ranks(ranks, ["tests/python/torch_semantics_worker.py", name], timeout=150)
    assert all(r.returncode == 0 for r in results), describe(results)
    return results


def test_powersgd_hook_trains_as_on_gloo():
    scenario("powersgd")


def test_comm_hook_waiting_on_an_all_reduce_inside_its_callback():
    scenario("hook_waits_inside_callback")


def test_future_chain_with_waits_inside_callbacks():
    scenario("future_chain")


def test_hung_wait_raises_timed_out_at_the_groups_timeout():
    results = scenario("hung_wait_times_out")
    assert "Timed out" in results[0].output, describe(results)


def test_bounded_wait_raises_timed_out():
    scenario("bounded_wait_times_out")


def test_premul_sum():
    scenario("premul_sum")


@pytest.mark.parametrize("ranks", [2, 3])
def test_all_gather_coalesced(ranks):
    scenario("gather_coalesced", ranks)


@pytest.mark.parametrize("ranks", [2, 3])
def test_sparse_all_reduce(ranks):
    scenario("sparse_all_reduce", ranks)


@pytest.mark.parametrize("ranks", [2, 3])
def test_monitored_barrier_passes(ranks):
    scenario("monitored_barrier_passes", ranks)


def test_monitored_barrier_names_the_first_absent_rank():
    scenario("monitored_barrier_names_the_first_absent_rank", 3)


def test_monitored_barrier_names_every_absent_rank():
    scenario("monitored_barrier_names_every_absent_rank", 3)


def test_recv_without_src_returns_the_senders_rank_as_on_gloo():
    scenario("recv_any_source", 3)

"""Every torch.distributed collective on the myriad backend against gloo's
result on the same inputs: 2 and 4 ranks, eight dtypes, shapes with 0, 1
and many elements, non-contiguous tensors, and sub-groups made with
new_group (collective_worker.py holds the cases)."""

import pytest

from ranks import all_ok, describe, run_ranks


@pytest.mark.parametrize("ranks", [2, 4])
def test_every_collective_matches_gloo_on_the_world_and_on_sub_groups(ranks):
    results = run_ranks(ranks, ["tests/python/collective_worker.py", "--subgroups"])
    assert all_ok(results), describe(results)
    for r in results:
        assert "all collectives match gloo" in r.output, describe(results)

"""int16 (SUM, MIN, MAX, PRODUCT), bool (every op but AVG, with its
logical meaning) and the bitwise reductions of int8, uint8, int16, int32
and int64 on the myriad backend, on 2 and 3 ranks: all_reduce, reduce and
reduce_scatter_tensor against results computed from every rank's inputs,
and all_reduce against gloo where gloo has the pair; bitwise ops of
floating tensors are errors (reduction_worker.py holds the cases)."""

import pytest

from ranks import all_ok, describe, run_ranks


@pytest.mark.parametrize("ranks", [2, 3])
def test_int16_bool_and_bitwise_reductions_match_the_expected_values(ranks):
    results = run_ranks(ranks, ["tests/python/reduction_worker.py"])
    assert all_ok(results), describe(results)
    for r in results:
        assert "all reductions match" in r.output, describe(results)

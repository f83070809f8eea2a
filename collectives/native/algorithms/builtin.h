// Factories of the built-in algorithms, one per file of this folder.
// algorithm_registry.cc registers one instance per op kind it implements.
#pragma once

#include <memory>

#include "collectives/native/algorithm.h"

namespace myriad {

std::unique_ptr<Algorithm> make_allreduce_ring();
std::unique_ptr<Algorithm> make_allreduce_recursive_doubling();
std::unique_ptr<Algorithm> make_allreduce_rabenseifner();
std::unique_ptr<Algorithm> make_allreduce_hierarchical();
std::unique_ptr<Algorithm> make_allgather_ring();                // allgather, allgatherv
std::unique_ptr<Algorithm> make_allgather_recursive_doubling();  // allgather, allgatherv
std::unique_ptr<Algorithm> make_allgather_hierarchical();        // allgather, allgatherv
std::unique_ptr<Algorithm> make_reduce_scatter_ring();           // reduce_scatter, reduce_scatterv
std::unique_ptr<Algorithm> make_reduce_scatter_hierarchical();   // reduce_scatter, reduce_scatterv
std::unique_ptr<Algorithm> make_broadcast_tree();
std::unique_ptr<Algorithm> make_reduce_tree();
std::unique_ptr<Algorithm> make_alltoall_pairwise();  // alltoall, alltoallv
std::unique_ptr<Algorithm> make_gather_linear();
std::unique_ptr<Algorithm> make_gather_tree();
std::unique_ptr<Algorithm> make_scatter_linear();
std::unique_ptr<Algorithm> make_scatter_tree();
std::unique_ptr<Algorithm> make_barrier_dissemination();

}  // namespace myriad

// The simulator's buffers, input data and reference check.
#include "collectives/native/simulator_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace myriad {
namespace {

// Fill byte of memory that holds no input: non-zero, so that a reduction
// reading it before it is written changes the result.
constexpr uint8_t kUnwrittenByte = 0xA5;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t sum(const std::vector<uint64_t>& values) {
  uint64_t total = 0;
  for (uint64_t v : values) total += v;
  return total;
}

template <typename Lane>
void add_lanes(uint8_t* dst, const uint8_t* src, uint64_t bytes) {
  for (uint64_t i = 0; i + sizeof(Lane) <= bytes; i += sizeof(Lane)) {
    Lane a;
    Lane b;
    std::memcpy(&a, dst + i, sizeof(Lane));
    std::memcpy(&b, src + i, sizeof(Lane));
    a = static_cast<Lane>(a + b);
    std::memcpy(dst + i, &a, sizeof(Lane));
  }
}

// The rank's per-peer counts of an alltoall(v): what it sends to each rank
// and what it receives from each.
std::vector<uint64_t> alltoall_counts(const CollectiveArgs& args, int rank, bool sending) {
  const size_t n = static_cast<size_t>(args.size);
  std::vector<uint64_t> counts(n, args.count);
  if (args.kind == OpKind::Alltoallv) {
    for (size_t j = 0; j < n; ++j)
      counts[j] = sending ? args.counts[rank * n + j] : args.counts[j * n + rank];
  }
  return counts;
}

uint64_t prefix(const std::vector<uint64_t>& counts, int index) {
  uint64_t total = 0;
  for (int i = 0; i < index; ++i) total += counts[i];
  return total;
}

std::vector<uint64_t> block_counts(const CollectiveArgs& args) {
  if (args.kind == OpKind::Allgatherv || args.kind == OpKind::ReduceScatterv) return args.counts;
  return std::vector<uint64_t>(args.size, args.count);
}

}  // namespace

void reduce_bytes(uint8_t* dst, const uint8_t* src, uint64_t bytes, size_t element_bytes) {
  if (element_bytes % 8 == 0) return add_lanes<uint64_t>(dst, src, bytes);
  if (element_bytes % 4 == 0) return add_lanes<uint32_t>(dst, src, bytes);
  if (element_bytes % 2 == 0) return add_lanes<uint16_t>(dst, src, bytes);
  add_lanes<uint8_t>(dst, src, bytes);
}

BufferSizes buffer_sizes(const CollectiveArgs& args, int rank) {
  const uint64_t eb = args.element_bytes;
  const uint64_t c = args.count;
  const uint64_t n = static_cast<uint64_t>(args.size);
  const bool root = rank == args.root;
  switch (args.kind) {
    case OpKind::Allreduce: return {c * eb, c * eb};
    case OpKind::Reduce: return {c * eb, root ? c * eb : 0};
    case OpKind::Broadcast: return {0, c * eb};
    case OpKind::Allgather:
    case OpKind::Allgatherv: return {block_counts(args)[rank] * eb, sum(block_counts(args)) * eb};
    case OpKind::ReduceScatter:
    case OpKind::ReduceScatterv: return {sum(block_counts(args)) * eb, block_counts(args)[rank] * eb};
    case OpKind::Alltoall:
    case OpKind::Alltoallv:
      return {sum(alltoall_counts(args, rank, true)) * eb, sum(alltoall_counts(args, rank, false)) * eb};
    case OpKind::Gather: return {c * eb, root ? n * c * eb : 0};
    case OpKind::Scatter: return {root ? n * c * eb : 0, c * eb};
    case OpKind::Barrier:
    case OpKind::Send:
    case OpKind::Recv: return {0, 0};
  }
  return {0, 0};
}

BufferBinding bind_buffers(const CollectiveArgs& args, int rank, bool in_place, uint64_t scratch_bytes) {
  const BufferSizes sizes = buffer_sizes(args, rank);
  BufferBinding binding;
  binding.input = {0, 0, sizes.input};
  binding.output = {1, 0, sizes.output};
  binding.scratch = {2, 0, scratch_bytes};
  if (!in_place) return binding;
  const uint64_t eb = args.element_bytes;
  const bool root = rank == args.root;
  switch (args.kind) {
    case OpKind::Allreduce:
    case OpKind::Alltoall:
    case OpKind::Alltoallv: binding.input.memory = 1; break;
    case OpKind::Reduce:
      if (root) binding.input.memory = 1;
      break;
    case OpKind::Allgather:
    case OpKind::Allgatherv: binding.input = {1, prefix(block_counts(args), rank) * eb, sizes.input}; break;
    case OpKind::ReduceScatter:
    case OpKind::ReduceScatterv:
      binding.output = {0, prefix(block_counts(args), rank) * eb, sizes.output};
      break;
    case OpKind::Gather:
      if (root) binding.input = {1, static_cast<uint64_t>(rank) * args.count * eb, sizes.input};
      break;
    case OpKind::Scatter:
      if (root) binding.output = {0, static_cast<uint64_t>(rank) * args.count * eb, sizes.output};
      break;
    default: break;
  }
  return binding;
}

SimulatedData::SimulatedData(const CollectiveArgs& args, bool in_place,
                             const std::vector<uint64_t>& scratch_bytes, uint64_t seed)
    : args_(args), seed_(seed) {
  args_.topology = nullptr;
  memory_.resize(static_cast<size_t>(args.size) * 3);
  for (int rank = 0; rank < args.size; ++rank) {
    BufferBinding binding = bind_buffers(args, rank, in_place, scratch_bytes[rank]);
    for (int memory = 0; memory < 3; ++memory) {
      uint64_t bytes = 0;
      for (BufferId id : {BufferId::Input, BufferId::Output, BufferId::Scratch}) {
        const BufferBinding::Place& place = binding.place(id);
        if (place.memory == memory) bytes = std::max(bytes, place.offset + place.bytes);
      }
      memory_[rank * 3 + memory].assign(bytes, kUnwrittenByte);
    }
    bindings_.push_back(binding);
    const std::vector<uint8_t> input = input_of(rank);
    const Span target = args.kind == OpKind::Broadcast ? Span{BufferId::Output, 0, input.size()}
                                                       : Span{BufferId::Input, 0, input.size()};
    if (!input.empty() && (args.kind != OpKind::Broadcast || rank == args.root)) {
      std::memcpy(at(rank, target), input.data(), input.size());
    }
  }
}

uint8_t* SimulatedData::at(int rank, const Span& span) {
  const BufferBinding::Place& place = bindings_[rank].place(span.buffer);
  return memory_[rank * 3 + place.memory].data() + place.offset + span.offset;
}

void SimulatedData::fill_input(int rank, uint8_t* data, uint64_t offset, uint64_t bytes) const {
  uint64_t word_index = UINT64_MAX;
  uint64_t word = 0;
  for (uint64_t i = 0; i < bytes; ++i) {
    const uint64_t byte = offset + i;
    if (byte / 8 != word_index) {
      word_index = byte / 8;
      word = splitmix64(seed_ ^ splitmix64((static_cast<uint64_t>(rank) << 40) ^ word_index));
    }
    data[i] = static_cast<uint8_t>(word >> (8 * (byte % 8)));
  }
}

std::vector<uint8_t> SimulatedData::input_of(int rank) const {
  const uint64_t bytes =
      args_.kind == OpKind::Broadcast ? args_.count * args_.element_bytes : buffer_sizes(args_, rank).input;
  std::vector<uint8_t> data(bytes);
  fill_input(rank, data.data(), 0, bytes);
  return data;
}

std::optional<std::string> SimulatedData::check() const {
  // Inputs are regenerated one at a time (fill_input is a pure function of
  // rank and offset) rather than held for every rank: the check needs
  // O(one rank's buffers) beyond the ranks' own memory.
  const uint64_t eb = args_.element_bytes;
  const int n = args_.size;
  std::vector<uint8_t> total;  // element-wise sum of all inputs, for the reductions
  if (args_.kind == OpKind::Allreduce || args_.kind == OpKind::Reduce ||
      args_.kind == OpKind::ReduceScatter || args_.kind == OpKind::ReduceScatterv) {
    total.assign(buffer_sizes(args_, 0).input, 0);
    std::vector<uint8_t> input(total.size());
    for (int rank = 0; rank < n; ++rank) {
      fill_input(rank, input.data(), 0, input.size());
      reduce_bytes(total.data(), input.data(), total.size(), eb);
    }
  }
  // Output bytes [at, at + bytes) of `rank` against `expected`.
  const auto compare = [&](int rank, uint64_t at, const uint8_t* expected,
                           uint64_t bytes) -> std::optional<std::string> {
    const BufferBinding::Place& place = bindings_[rank].output;
    const uint8_t* got = memory_[rank * 3 + place.memory].data() + place.offset + at;
    for (uint64_t i = 0; i < bytes; ++i) {
      if (got[i] != expected[i]) {
        return fmt::format("rank {}: Output byte {} (element {}) is {:#04x}, expected {:#04x}", rank, at + i,
                           (at + i) / eb, got[i], expected[i]);
      }
    }
    return std::nullopt;
  };
  const auto output_size = [&](int rank, uint64_t bytes) -> std::optional<std::string> {
    const uint64_t has = bindings_[rank].output.bytes;
    if (has < bytes) return fmt::format("rank {}: Output has {} bytes, expected {}", rank, has, bytes);
    return std::nullopt;
  };
  const std::vector<uint64_t> blocks = block_counts(args_);
  std::vector<uint8_t> piece;
  // Output of `rank` against every rank's input in rank order (allgather, gather).
  // Input sizes once: buffer_sizes builds the n block counts, and this
  // loop runs n times per rank (O(n^3) at 4,096 ranks took minutes).
  std::vector<uint64_t> input_bytes;
  if (args_.kind == OpKind::Allgather || args_.kind == OpKind::Allgatherv || args_.kind == OpKind::Gather) {
    for (int from = 0; from < n; ++from) {
      input_bytes.push_back(args_.kind == OpKind::Gather ? args_.count * eb : blocks[from] * eb);
    }
  }
  const auto compare_concat = [&](int rank) -> std::optional<std::string> {
    uint64_t at = 0;
    for (int from = 0; from < n; ++from) {
      piece.resize(input_bytes[from]);
      fill_input(from, piece.data(), 0, piece.size());
      if (auto problem = output_size(rank, at + piece.size())) return problem;
      if (auto problem = compare(rank, at, piece.data(), piece.size())) return problem;
      at += piece.size();
    }
    return std::nullopt;
  };
  std::vector<uint8_t> root_input;
  if (args_.kind == OpKind::Broadcast || args_.kind == OpKind::Scatter) root_input = input_of(args_.root);
  std::vector<std::vector<uint64_t>> send_offsets;  // alltoallv: send_offsets[j][i], rank j's block for i
  if (args_.kind == OpKind::Alltoallv) {
    for (int from = 0; from < n; ++from) {
      const std::vector<uint64_t> sent = alltoall_counts(args_, from, true);
      std::vector<uint64_t> offsets(n + 1, 0);
      for (int i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + sent[i];
      send_offsets.push_back(std::move(offsets));
    }
  }
  const auto check_whole = [&](int rank, const std::vector<uint8_t>& expected, uint64_t begin,
                               uint64_t bytes) -> std::optional<std::string> {
    if (auto problem = output_size(rank, bytes)) return problem;
    return compare(rank, 0, expected.data() + begin, bytes);
  };
  for (int rank = 0; rank < n; ++rank) {
    std::optional<std::string> problem;
    switch (args_.kind) {
      case OpKind::Allreduce: problem = check_whole(rank, total, 0, total.size()); break;
      case OpKind::Reduce:
        if (rank == args_.root) problem = check_whole(rank, total, 0, total.size());
        break;
      case OpKind::Broadcast: problem = check_whole(rank, root_input, 0, root_input.size()); break;
      case OpKind::Allgather:
      case OpKind::Allgatherv: problem = compare_concat(rank); break;
      case OpKind::Gather:
        if (rank == args_.root) problem = compare_concat(rank);
        break;
      case OpKind::ReduceScatter:
      case OpKind::ReduceScatterv:
        problem = check_whole(rank, total, prefix(blocks, rank) * eb, blocks[rank] * eb);
        break;
      case OpKind::Scatter:
        problem = check_whole(rank, root_input, rank * args_.count * eb, args_.count * eb);
        break;
      case OpKind::Alltoall:
      case OpKind::Alltoallv: {
        uint64_t at = 0;
        for (int from = 0; from < n && !problem; ++from) {
          const uint64_t begin = args_.kind == OpKind::Alltoall ? static_cast<uint64_t>(rank) * args_.count
                                                                : send_offsets[from][rank];
          const uint64_t end =
              args_.kind == OpKind::Alltoall ? begin + args_.count : send_offsets[from][rank + 1];
          piece.resize((end - begin) * eb);
          fill_input(from, piece.data(), begin * eb, piece.size());
          problem = output_size(rank, at + piece.size());
          if (!problem) problem = compare(rank, at, piece.data(), piece.size());
          at += piece.size();
        }
        break;
      }
      default: break;
    }
    if (problem) return problem;
  }
  return std::nullopt;
}

}  // namespace myriad

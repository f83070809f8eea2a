#include "tests/collectives/collective_cases.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/half.h"
#include "runtime/error.h"

namespace myriad::test {
namespace {

using kernels::BFloat16;
using kernels::Half;

// splitmix64: cheap, well-mixed values from (seed, rank, index).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_of(const Case& c, int rank, uint64_t index) {
  return mix(mix(mix(c.seed) ^ static_cast<uint64_t>(rank)) ^ index);
}

// Written into outputs before a call, so that an element the operation
// should have written but did not is caught. Outside every input range but
// the bitwise reductions' (which span the type).
double sentinel(DType dtype) {
  return dtype == DType::U8 ? 253.0 : -99.0;
}

double reduced(const Case& c, int size, uint64_t index) {
  double acc = input_value(c, 0, index);
  for (int r = 1; r < size; ++r) {
    const double v = input_value(c, r, index);
    switch (c.op) {
      case ReduceOp::Sum:
      case ReduceOp::Avg: acc += v; break;
      case ReduceOp::Prod: acc *= v; break;
      case ReduceOp::Min: acc = std::min(acc, v); break;
      case ReduceOp::Max: acc = std::max(acc, v); break;
      // Exact integers of at most 53 bits; the signed ones sign-extended,
      // which the bitwise ops keep (the result is in the type's range).
      case ReduceOp::Band:
        acc = static_cast<double>(static_cast<int64_t>(acc) & static_cast<int64_t>(v));
        break;
      case ReduceOp::Bor:
        acc = static_cast<double>(static_cast<int64_t>(acc) | static_cast<int64_t>(v));
        break;
      case ReduceOp::Bxor:
        acc = static_cast<double>(static_cast<int64_t>(acc) ^ static_cast<int64_t>(v));
        break;
    }
  }
  return c.op == ReduceOp::Avg ? acc / size : acc;
}

std::vector<uint64_t> prefix_of(const std::vector<uint64_t>& counts) {
  std::vector<uint64_t> prefix(counts.size() + 1, 0);
  for (size_t i = 0; i < counts.size(); ++i) prefix[i + 1] = prefix[i] + counts[i];
  return prefix;
}

// A value of `dtype` from the bits of `h`: the whole range of the 8-, 16-
// and 32-bit types (negative values included), and 53 bits of i64 so that
// it is exact in a double.
double bitwise_value(DType dtype, uint64_t h) {
  switch (dtype) {
    case DType::I8: return static_cast<int8_t>(h);
    case DType::U8: return static_cast<uint8_t>(h);
    case DType::I16: return static_cast<int16_t>(h);
    case DType::I32: return static_cast<int32_t>(h);
    case DType::I64: return static_cast<double>(static_cast<int64_t>(h << 11) >> 11);
    default: return 0;  // no bitwise reductions of the floating types
  }
}

TensorView none(DType dtype) {
  return TensorView{nullptr, 0, dtype};
}

}  // namespace

std::string Case::to_string() const {
  std::string name = kind == OpKind::Send ? "sendrecv" : std::string(op_kind_name(kind));
  std::string out = fmt::format("{} dtype={}", name, dtype_name(dtype));
  if (is_reducing(kind)) out += fmt::format(" op={}", reduce_op_name(op));
  out += fmt::format(" algorithm={} count={} in_place={}", algorithm.empty() ? "default" : algorithm, count,
                     in_place ? 1 : 0);
  if (has_root(kind)) out += fmt::format(" root={}", root);
  out += fmt::format(" seed={}", seed);
  return out;
}

bool is_reducing(OpKind kind) {
  return kind == OpKind::Allreduce || kind == OpKind::Reduce || kind == OpKind::ReduceScatter ||
         kind == OpKind::ReduceScatterv;
}

bool has_root(OpKind kind) {
  return kind == OpKind::Reduce || kind == OpKind::Broadcast || kind == OpKind::Gather ||
         kind == OpKind::Scatter;
}

bool has_in_place(OpKind kind) {
  return kind != OpKind::Broadcast && kind != OpKind::Barrier && kind != OpKind::Send && kind != OpKind::Recv;
}

std::vector<ReduceOp> reductions_for(DType dtype) {
  std::vector<ReduceOp> ops = {ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Min, ReduceOp::Max};
  if (dtype_is_floating(dtype)) {
    ops.push_back(ReduceOp::Avg);
  } else {
    ops.insert(ops.end(), {ReduceOp::Band, ReduceOp::Bor, ReduceOp::Bxor});
  }
  return ops;
}

uint64_t v_count(uint64_t count, int rank) {
  if (count == 0) return 0;
  return rank % 3 == 1 ? 0 : count + static_cast<uint64_t>(rank);
}

uint64_t alltoallv_count(uint64_t count, int from, int to) {
  if (count == 0) return 0;
  const int a = std::min(from, to);
  const int b = std::max(from, to);
  if ((a + 2 * b) % 4 == 3) return 0;
  return count + static_cast<uint64_t>((a * 3 + b) % 5);
}

double input_value(const Case& c, int rank, uint64_t index) {
  const uint64_t h = hash_of(c, rank, index);
  const bool unsigned_type = c.dtype == DType::U8;
  if (!is_reducing(c.kind)) {
    return unsigned_type ? static_cast<double>(h % 200) : static_cast<double>(h % 120) - 60.0;
  }
  switch (c.op) {
    case ReduceOp::Sum:
    case ReduceOp::Avg:
      return unsigned_type ? static_cast<double>(h % 16) : static_cast<double>(h % 16) - 8.0;
    case ReduceOp::Prod: {
      // At most two of eight ranks (one of up to three) hold 2 at an index.
      const double magnitude = (index + static_cast<uint64_t>(rank) + c.seed) % 4 == 0 ? 2.0 : 1.0;
      return !unsigned_type && (h & 1) ? -magnitude : magnitude;
    }
    case ReduceOp::Min:
    case ReduceOp::Max:
      return unsigned_type ? static_cast<double>(h % 101) : static_cast<double>(h % 101) - 50.0;
    // Bits set with probability 7/8 for band and 1/8 for bor, so that over
    // 2 to 8 ranks both results keep a mix of ones and zeros; 1/2 for bxor.
    case ReduceOp::Band: return bitwise_value(c.dtype, h | mix(h) | mix(h + 1));
    case ReduceOp::Bor: return bitwise_value(c.dtype, h & mix(h) & mix(h + 1));
    case ReduceOp::Bxor: return bitwise_value(c.dtype, h);
  }
  return 0;
}

double avg_tolerance(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4 * std::ldexp(1.0, -23);
    case DType::F64: return 4 * std::ldexp(1.0, -52);
    case DType::F16: return 4 * std::ldexp(1.0, -10);
    case DType::BF16: return 4 * std::ldexp(1.0, -7);
    default: return 0;
  }
}

HostBuffer::HostBuffer(DType dtype, size_t count)
    : dtype_(dtype), count_(count), bytes_(2 * kGuardBytes + count * dtype_size(dtype), kGuardByte) {}

TensorView HostBuffer::view(size_t offset, size_t count) const {
  MYRIAD_CHECK(offset + count <= count_, "view [{}, {}) of a buffer of {}", offset, offset + count, count_);
  if (count == 0) return none(dtype_);
  return TensorView{data() + offset * dtype_size(dtype_), count, dtype_};
}

double HostBuffer::get(size_t index) const {
  const uint8_t* p = data() + index * dtype_size(dtype_);
  switch (dtype_) {
    case DType::F32: {
      float v;
      std::memcpy(&v, p, sizeof(v));
      return v;
    }
    case DType::F64: {
      double v;
      std::memcpy(&v, p, sizeof(v));
      return v;
    }
    case DType::F16: {
      Half v;
      std::memcpy(&v, p, sizeof(v));
      return static_cast<float>(v);
    }
    case DType::BF16: {
      BFloat16 v;
      std::memcpy(&v, p, sizeof(v));
      return static_cast<float>(v);
    }
    case DType::I8: {
      int8_t v;
      std::memcpy(&v, p, sizeof(v));
      return v;
    }
    case DType::U8: {
      uint8_t v;
      std::memcpy(&v, p, sizeof(v));
      return v;
    }
    case DType::I32: {
      int32_t v;
      std::memcpy(&v, p, sizeof(v));
      return v;
    }
    case DType::I64: {
      int64_t v;
      std::memcpy(&v, p, sizeof(v));
      return static_cast<double>(v);
    }
    case DType::I16: {
      int16_t v;
      std::memcpy(&v, p, sizeof(v));
      return v;
    }
  }
  return 0;
}

void HostBuffer::set(size_t index, double value) {
  uint8_t* p = data() + index * dtype_size(dtype_);
  auto put = [p](auto v) { std::memcpy(p, &v, sizeof(v)); };
  switch (dtype_) {
    case DType::F32: put(static_cast<float>(value)); break;
    case DType::F64: put(value); break;
    case DType::F16: put(Half(static_cast<float>(value))); break;
    case DType::BF16: put(BFloat16(static_cast<float>(value))); break;
    case DType::I8: put(static_cast<int8_t>(value)); break;
    case DType::U8: put(static_cast<uint8_t>(value)); break;
    case DType::I32: put(static_cast<int32_t>(value)); break;
    case DType::I64: put(static_cast<int64_t>(value)); break;
    case DType::I16: put(static_cast<int16_t>(value)); break;
  }
}

std::optional<long> HostBuffer::clobbered_guard() const {
  const size_t end = kGuardBytes + count_ * dtype_size(dtype_);
  for (size_t i = 0; i < kGuardBytes; ++i) {
    if (bytes_[i] != kGuardByte) return static_cast<long>(i) - static_cast<long>(kGuardBytes);
    if (bytes_[end + i] != kGuardByte) return static_cast<long>(end + i - kGuardBytes);
  }
  return std::nullopt;
}

std::unique_ptr<PendingCase> start_case(Communicator& comm, const Case& c) {
  auto pending = std::make_unique<PendingCase>();
  PendingCase& p = *pending;
  p.case_ = c;
  p.rank_ = comm.rank();
  p.size_ = comm.size();
  const int me = p.rank_;
  const int n = p.size_;
  const DType dt = c.dtype;
  const uint64_t cnt = c.count;
  const double fill = sentinel(dt);
  auto v = [&](int rank, uint64_t index) { return input_value(c, rank, index); };
  // Fills `buffer` with `value(i)` and records `expected(i)` as its final content.
  auto prepare = [&](HostBuffer& buffer, std::string name, uint64_t count, auto value, auto expected) {
    buffer = HostBuffer(dt, count);
    PendingCase::Checked check{std::move(name), &buffer, std::vector<double>(count)};
    for (uint64_t i = 0; i < count; ++i) {
      buffer.set(i, value(i));
      check.expected[i] = expected(i);
    }
    p.checks_.push_back(std::move(check));
  };
  auto same = [](auto f) { return f; };
  auto constant = [](double value) { return [value](uint64_t) { return value; }; };

  switch (c.kind) {
    case OpKind::Allreduce: {
      const AllreduceOptions options{.op = c.op, .algorithm = c.algorithm};
      auto result = [&](uint64_t i) { return reduced(c, n, i); };
      auto mine = [&](uint64_t i) { return v(me, i); };
      if (c.in_place) {
        prepare(p.output_, "buffer", cnt, mine, result);
        p.works_.push_back(comm.allreduce(p.output_.view(), options));
      } else {
        prepare(p.input_, "input", cnt, mine, same(mine));
        prepare(p.output_, "output", cnt, constant(fill), result);
        p.works_.push_back(comm.allreduce(p.input_.view(), p.output_.view(), options));
      }
      break;
    }
    case OpKind::Reduce: {
      const ReduceOptions options{.op = c.op, .root = c.root, .algorithm = c.algorithm};
      auto result = [&](uint64_t i) { return reduced(c, n, i); };
      auto mine = [&](uint64_t i) { return v(me, i); };
      if (me == c.root && c.in_place) {
        prepare(p.output_, "buffer", cnt, mine, result);
        p.works_.push_back(comm.reduce(p.output_.view(), p.output_.view(), options));
      } else if (me == c.root) {
        prepare(p.input_, "input", cnt, mine, same(mine));
        prepare(p.output_, "output", cnt, constant(fill), result);
        p.works_.push_back(comm.reduce(p.input_.view(), p.output_.view(), options));
      } else if (c.in_place) {
        prepare(p.input_, "input", cnt, mine, same(mine));
        p.works_.push_back(comm.reduce(p.input_.view(), none(dt), options));
      } else {
        // A non-root's output is not used: it must stay untouched.
        prepare(p.input_, "input", cnt, mine, same(mine));
        prepare(p.output_, "unused output", cnt, constant(fill), constant(fill));
        p.works_.push_back(comm.reduce(p.input_.view(), p.output_.view(), options));
      }
      break;
    }
    case OpKind::Broadcast: {
      const RootOptions options{.root = c.root, .algorithm = c.algorithm};
      auto root_value = [&](uint64_t i) { return v(c.root, i); };
      if (me == c.root) {
        prepare(p.output_, "buffer", cnt, root_value, root_value);
      } else {
        prepare(p.output_, "buffer", cnt, constant(fill), root_value);
      }
      p.works_.push_back(comm.broadcast(p.output_.view(), options));
      break;
    }
    case OpKind::Allgather:
    case OpKind::Allgatherv: {
      std::vector<uint64_t> counts(n);
      for (int r = 0; r < n; ++r) counts[r] = c.kind == OpKind::Allgather ? cnt : v_count(cnt, r);
      const std::vector<uint64_t> prefix = prefix_of(counts);
      auto rank_at = [prefix](uint64_t i) {
        return static_cast<int>(std::upper_bound(prefix.begin(), prefix.end(), i) - prefix.begin()) - 1;
      };
      auto gathered = [&, rank_at, prefix](uint64_t i) {
        const int r = rank_at(i);
        return v(r, i - prefix[r]);
      };
      const CollectiveOptions options{.algorithm = c.algorithm};
      TensorView input;
      if (c.in_place) {
        auto initial = [&, rank_at, prefix](uint64_t i) {
          return rank_at(i) == me ? v(me, i - prefix[me]) : fill;
        };
        prepare(p.output_, "output", prefix[n], initial, gathered);
        input = p.output_.view(prefix[me], counts[me]);
      } else {
        auto mine = [&](uint64_t i) { return v(me, i); };
        prepare(p.input_, "input", counts[me], mine, same(mine));
        prepare(p.output_, "output", prefix[n], constant(fill), gathered);
        input = p.input_.view();
      }
      p.works_.push_back(c.kind == OpKind::Allgather
                             ? comm.allgather(input, p.output_.view(), options)
                             : comm.allgatherv(input, p.output_.view(), counts, options));
      break;
    }
    case OpKind::ReduceScatter:
    case OpKind::ReduceScatterv: {
      std::vector<uint64_t> counts(n);
      for (int r = 0; r < n; ++r) counts[r] = c.kind == OpKind::ReduceScatter ? cnt : v_count(cnt, r);
      const std::vector<uint64_t> prefix = prefix_of(counts);
      const ReduceScatterOptions options{.op = c.op, .algorithm = c.algorithm};
      auto mine = [&](uint64_t i) { return v(me, i); };
      TensorView output;
      if (c.in_place) {
        const uint64_t begin = prefix[me];
        const uint64_t end = prefix[me + 1];
        auto after = [&, begin, end](uint64_t i) {
          return i >= begin && i < end ? reduced(c, n, i) : v(me, i);
        };
        prepare(p.input_, "input", prefix[n], mine, after);
        output = p.input_.view(begin, counts[me]);
      } else {
        const uint64_t begin = prefix[me];
        prepare(p.input_, "input", prefix[n], mine, same(mine));
        prepare(p.output_, "output", counts[me], constant(fill),
                [&, begin](uint64_t i) { return reduced(c, n, begin + i); });
        output = p.output_.view();
      }
      p.works_.push_back(c.kind == OpKind::ReduceScatter
                             ? comm.reduce_scatter(p.input_.view(), output, options)
                             : comm.reduce_scatterv(p.input_.view(), output, counts, options));
      break;
    }
    case OpKind::Alltoall:
    case OpKind::Alltoallv: {
      // counts[i][j]: elements rank i sends to rank j.
      auto pair = [&](int from, int to) {
        return c.kind == OpKind::Alltoall ? cnt : alltoallv_count(cnt, from, to);
      };
      std::vector<uint64_t> send_counts(n);
      std::vector<uint64_t> recv_counts(n);
      for (int j = 0; j < n; ++j) {
        send_counts[j] = pair(me, j);
        recv_counts[j] = pair(j, me);
      }
      const std::vector<uint64_t> recv_prefix = prefix_of(recv_counts);
      // Where rank j's block for this rank starts in rank j's input.
      std::vector<uint64_t> offset_at_sender(n, 0);
      for (int j = 0; j < n; ++j) {
        for (int k = 0; k < me; ++k) offset_at_sender[j] += pair(j, k);
      }
      auto received = [&, recv_prefix, offset_at_sender](uint64_t i) {
        const int j = static_cast<int>(std::upper_bound(recv_prefix.begin(), recv_prefix.end(), i) -
                                       recv_prefix.begin()) -
                      1;
        return v(j, offset_at_sender[j] + (i - recv_prefix[j]));
      };
      auto mine = [&](uint64_t i) { return v(me, i); };
      const uint64_t total = prefix_of(send_counts)[n];
      const CollectiveOptions options{.algorithm = c.algorithm};
      if (c.in_place) {
        prepare(p.output_, "buffer", total, mine, received);
        p.works_.push_back(
            c.kind == OpKind::Alltoall
                ? comm.alltoall(p.output_.view(), p.output_.view(), options)
                : comm.alltoallv(p.output_.view(), p.output_.view(), send_counts, recv_counts, options));
      } else {
        prepare(p.input_, "input", total, mine, same(mine));
        prepare(p.output_, "output", recv_prefix[n], constant(fill), received);
        p.works_.push_back(
            c.kind == OpKind::Alltoall
                ? comm.alltoall(p.input_.view(), p.output_.view(), options)
                : comm.alltoallv(p.input_.view(), p.output_.view(), send_counts, recv_counts, options));
      }
      break;
    }
    case OpKind::Gather: {
      const RootOptions options{.root = c.root, .algorithm = c.algorithm};
      auto gathered = [&](uint64_t i) { return cnt == 0 ? fill : v(static_cast<int>(i / cnt), i % cnt); };
      auto mine = [&](uint64_t i) { return v(me, i); };
      const uint64_t total = cnt * static_cast<uint64_t>(n);
      if (me == c.root && c.in_place) {
        auto initial = [&](uint64_t i) {
          return i / cnt == static_cast<uint64_t>(me) ? v(me, i % cnt) : fill;
        };
        prepare(p.output_, "output", total, initial, gathered);
        p.works_.push_back(comm.gather(p.output_.view(me * cnt, cnt), p.output_.view(), options));
      } else if (me == c.root) {
        prepare(p.input_, "input", cnt, mine, same(mine));
        prepare(p.output_, "output", total, constant(fill), gathered);
        p.works_.push_back(comm.gather(p.input_.view(), p.output_.view(), options));
      } else {
        prepare(p.input_, "input", cnt, mine, same(mine));
        if (c.in_place) {
          p.works_.push_back(comm.gather(p.input_.view(), none(dt), options));
        } else {
          prepare(p.output_, "unused output", total, constant(fill), constant(fill));
          p.works_.push_back(comm.gather(p.input_.view(), p.output_.view(), options));
        }
      }
      break;
    }
    case OpKind::Scatter: {
      const RootOptions options{.root = c.root, .algorithm = c.algorithm};
      auto root_value = [&](uint64_t i) { return v(c.root, i); };
      const uint64_t total = cnt * static_cast<uint64_t>(n);
      const uint64_t begin = cnt * static_cast<uint64_t>(me);
      auto my_block = [&, begin](uint64_t i) { return v(c.root, begin + i); };
      if (me == c.root && c.in_place) {
        prepare(p.input_, "input", total, root_value, root_value);
        p.works_.push_back(comm.scatter(p.input_.view(), p.input_.view(begin, cnt), options));
      } else if (me == c.root) {
        prepare(p.input_, "input", total, root_value, root_value);
        prepare(p.output_, "output", cnt, constant(fill), my_block);
        p.works_.push_back(comm.scatter(p.input_.view(), p.output_.view(), options));
      } else {
        prepare(p.output_, "output", cnt, constant(fill), my_block);
        if (c.in_place) {
          p.works_.push_back(comm.scatter(none(dt), p.output_.view(), options));
        } else {
          prepare(p.input_, "unused input", total, constant(fill), constant(fill));
          p.works_.push_back(comm.scatter(p.input_.view(), p.output_.view(), options));
        }
      }
      break;
    }
    case OpKind::Barrier:
      p.works_.push_back(comm.barrier(CollectiveOptions{.algorithm = c.algorithm}));
      break;
    case OpKind::Send:
    case OpKind::Recv: {
      MYRIAD_CHECK(n > 1, "a ring exchange needs two ranks");
      const int next = (me + 1) % n;
      const int prev = (me + n - 1) % n;
      auto mine = [&](uint64_t i) { return v(me, i); };
      prepare(p.input_, "send buffer", cnt, mine, same(mine));
      prepare(p.output_, "recv buffer", cnt, constant(fill), [&, prev](uint64_t i) { return v(prev, i); });
      // The ring starts at rank 0; every other rank receives first, so the
      // exchange completes even if a send waits for its receive.
      if (me == 0) {
        p.works_.push_back(comm.send(p.input_.view(), next, c.seed));
        p.works_.push_back(comm.recv(p.output_.view(), prev, c.seed));
      } else {
        p.works_.push_back(comm.recv(p.output_.view(), prev, c.seed));
        p.works_.push_back(comm.send(p.input_.view(), next, c.seed));
      }
      break;
    }
  }
  return pending;
}

std::string check_case(PendingCase& p) {
  for (const WorkPtr& work : p.works_) work->wait();
  const double tolerance =
      p.case_.op == ReduceOp::Avg && is_reducing(p.case_.kind) ? avg_tolerance(p.case_.dtype) : 0;
  for (const PendingCase::Checked& check : p.checks_) {
    const HostBuffer& buffer = *check.buffer;
    for (size_t i = 0; i < check.expected.size(); ++i) {
      const double got = buffer.get(i);
      const double want = check.expected[i];
      const bool ok = tolerance == 0 ? got == want : std::fabs(got - want) <= tolerance * std::fabs(want);
      if (!ok) {
        return fmt::format("{} (rank {} of {}): {}[{}]: expected {}, got {}", p.case_.to_string(), p.rank_,
                           p.size_, check.name, i, want, got);
      }
    }
    if (std::optional<long> at = buffer.clobbered_guard()) {
      return fmt::format(
          "{} (rank {} of {}): {}: guard byte at offset {} of a {}-byte buffer was overwritten",
          p.case_.to_string(), p.rank_, p.size_, check.name, *at,
          buffer.count() * dtype_size(buffer.dtype()));
    }
  }
  return {};
}

}  // namespace myriad::test

#include "launcher/bench/coll_bench.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "launcher/bench/coll_data.h"
#include "launcher/bench/device.h"
#include "launcher/bench/progress.h"
#include "launcher/bench/stats.h"
#include "runtime/error.h"

namespace myriad::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kUsPerSecond = 1e6;

// One rank's buffers for one row: host memory, or device memory with a
// host mirror for filling and checking.
class RowBuffers {
 public:
  RowBuffers(size_t send_bytes, size_t recv_bytes, bool on_device, int device)
      : host_send_(send_bytes), host_recv_(recv_bytes), device_(device) {
    if (on_device) {
      dev_send_ = std::make_unique<DeviceBuffer>(send_bytes);
      dev_recv_ = std::make_unique<DeviceBuffer>(recv_bytes);
    }
  }
  std::byte* host_send() { return host_send_.data(); }
  std::byte* host_recv() { return host_recv_.data(); }
  void* send() { return dev_send_ ? dev_send_->data() : host_send_.data(); }
  void* recv() { return dev_recv_ ? dev_recv_->data() : host_recv_.data(); }
  Device device() const { return dev_send_ ? Device::cuda(device_) : Device::cpu(); }
  void upload() {
    if (!dev_send_) return;
    dev_send_->upload(host_send_.data(), host_send_.size());
    dev_recv_->upload(host_recv_.data(), host_recv_.size());
  }
  void download() {
    if (!dev_send_) return;
    dev_send_->download(host_send_.data(), host_send_.size());
    dev_recv_->download(host_recv_.data(), host_recv_.size());
  }

 private:
  std::vector<std::byte> host_send_;
  std::vector<std::byte> host_recv_;
  std::unique_ptr<DeviceBuffer> dev_send_;
  std::unique_ptr<DeviceBuffer> dev_recv_;
  int device_ = 0;
};

// Where one placement reads its input and writes its output, as offsets
// into the row's buffers (in place: both in one buffer).
struct Placement {
  bool in_place = false;
  bool input_in_recv = false;   // the input lives in the recv buffer
  size_t input_offset = 0;      // bytes
  bool output_in_send = false;  // the output lives in the send buffer
  size_t output_offset = 0;
};

Placement placement_of(CollOp op, bool in_place, const CollShape& shape, DType dtype, int rank) {
  Placement p{.in_place = in_place};
  if (!in_place) return p;
  size_t block = shape.count * dtype_size(dtype) * static_cast<size_t>(rank);
  switch (op) {
    case CollOp::Allreduce:
    case CollOp::Reduce:
    case CollOp::Alltoall: p.output_in_send = true; break;
    case CollOp::Allgather:
      p.input_in_recv = true;
      p.input_offset = block;
      break;
    case CollOp::ReduceScatter:
      p.output_in_send = true;
      p.output_offset = block;
      break;
    case CollOp::Broadcast:
    case CollOp::Sendrecv: p.in_place = false; break;  // one form only (coll_bench.h)
  }
  return p;
}

struct RowContext {
  CollOp op;
  CollShape shape;
  const CollOptions& options;
  Communicator& comm;
  int rank;
  int ranks;
};

// Issues the operation once; returns its Works (two for sendrecv).
std::vector<WorkPtr> issue(const RowContext& row, RowBuffers& buffers, const Placement& p) {
  const DType dtype = row.options.dtype;
  const Device device = buffers.device();
  auto* send_base = static_cast<std::byte*>(buffers.send());
  auto* recv_base = static_cast<std::byte*>(buffers.recv());
  void* in = (p.input_in_recv ? recv_base : send_base) + p.input_offset;
  void* out = (p.output_in_send ? send_base : recv_base) + p.output_offset;
  TensorView input{in, row.shape.send_count, dtype, device};
  TensorView output{out, row.shape.recv_count, dtype, device};
  Communicator& comm = row.comm;
  switch (row.op) {
    case CollOp::Allreduce: return {comm.allreduce(input, output, {.op = row.options.redop})};
    case CollOp::Allgather: return {comm.allgather(input, output)};
    case CollOp::ReduceScatter: return {comm.reduce_scatter(input, output, {.op = row.options.redop})};
    case CollOp::Broadcast: return {comm.broadcast(input, {.root = row.options.root})};
    case CollOp::Reduce:
      return {comm.reduce(input, output, {.op = row.options.redop, .root = row.options.root})};
    case CollOp::Alltoall: return {comm.alltoall(input, output)};
    case CollOp::Sendrecv: {
      int next = (row.rank + 1) % row.ranks;
      int prev = (row.rank + row.ranks - 1) % row.ranks;
      WorkPtr recv = comm.recv(output, prev);
      WorkPtr send = comm.send(input, next);
      return {recv, send};
    }
  }
  return {};
}

void wait_all(const std::vector<WorkPtr>& works) {
  for (const WorkPtr& work : works) work->wait();
}

// Per-iteration seconds of this rank.
std::vector<double> time_iterations(const RowContext& row, RowBuffers& buffers, const Placement& p) {
  const int n = row.options.iterations;
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(n));
  if (row.options.blocking) {
    for (int i = 0; i < n; ++i) {
      auto start = Clock::now();
      wait_all(issue(row, buffers, p));
      samples.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    return samples;
  }
  std::vector<std::vector<WorkPtr>> pending;
  pending.reserve(static_cast<size_t>(n));
  auto last = Clock::now();
  for (int i = 0; i < n; ++i) pending.push_back(issue(row, buffers, p));
  for (const auto& works : pending) {
    wait_all(works);
    auto now = Clock::now();
    samples.push_back(std::chrono::duration<double>(now - last).count());
    last = now;
  }
  return samples;
}

std::optional<int> fault_rank() {
  const char* text = std::getenv(kFaultCorruptEnv);
  if (text == nullptr || *text == '\0') return std::nullopt;
  return std::atoi(text);
}

// Fills, runs once, verifies; returns this rank's wrong elements.
uint64_t check_once(const RowContext& row, RowBuffers& buffers, const Placement& p) {
  const CollOptions& o = row.options;
  const DType dtype = o.dtype;
  const size_t element = dtype_size(dtype);
  std::memset(buffers.host_send(), 0, row.shape.send_count * element);
  std::memset(buffers.host_recv(), 0, row.shape.recv_count * element);
  std::byte* input = (p.input_in_recv ? buffers.host_recv() : buffers.host_send()) + p.input_offset;
  ReduceOp values = coll_op_reduces(row.op) ? o.redop : ReduceOp::Sum;
  fill_input(row.op, values, o.root, row.rank, row.ranks, input, dtype, row.shape.send_count);
  buffers.upload();
  wait_all(issue(row, buffers, p));
  buffers.download();
  std::byte* output = (p.output_in_send ? buffers.host_send() : buffers.host_recv()) + p.output_offset;
  if (row.op == CollOp::Broadcast) output = input;
  size_t out_count = row.op == CollOp::Broadcast ? row.shape.send_count : row.shape.recv_count;
  std::optional<int> corrupt = fault_rank();
  if (corrupt && *corrupt == row.rank && out_count > 0) {
    store_element(output, dtype, 0, load_element(output, dtype, 0) + 1);
  }
  return count_wrong(row.op, values, o.root, row.rank, row.ranks, output, dtype, row.shape.count, out_count);
}

CollMeasurement measure(BenchWorld& world, const RowContext& row, RowBuffers& buffers, bool in_place) {
  const CollOptions& o = row.options;
  Placement p = placement_of(row.op, in_place, row.shape, o.dtype, row.rank);
  buffers.upload();
  for (int i = 0; i < o.warmup; ++i) wait_all(issue(row, buffers, p));
  row.comm.barrier()->wait();
  std::vector<double> samples = time_iterations(row, buffers, p);
  uint64_t wrong = o.check ? check_once(row, buffers, p) : 0;

  CollMeasurement m;
  std::vector<std::string> all = world.gather(fmt::format("{:a}", fmt::join(samples, " ")));
  // Each rank's samples, parsed back; per iteration the slowest rank decides.
  std::vector<double> slowest(samples.size(), 0.0);
  for (const std::string& text : all) {
    std::vector<double> theirs;
    for (size_t at = 0; at < text.size();) {
      char* end = nullptr;
      theirs.push_back(std::strtod(text.c_str() + at, &end));
      at = static_cast<size_t>(end - text.c_str());
      while (at < text.size() && text[at] == ' ') ++at;
    }
    for (size_t i = 0; i < slowest.size() && i < theirs.size(); ++i)
      slowest[i] = std::max(slowest[i], theirs[i]);
    m.rank_mean_us.push_back(mean(theirs) * kUsPerSecond);
    m.rank_max_us.push_back(max_of(theirs) * kUsPerSecond);
  }
  m.time_us = mean(m.rank_mean_us);
  m.p50_us = percentile(slowest, 0.50) * kUsPerSecond;
  m.p95_us = percentile(slowest, 0.95) * kUsPerSecond;
  m.p99_us = percentile(slowest, 0.99) * kUsPerSecond;
  m.algbw = algbw_gbs(row.shape.bytes, m.time_us / kUsPerSecond);
  m.busbw = busbw_gbs(row.op, row.shape.bytes, m.time_us / kUsPerSecond, row.ranks);
  m.rank_wrong = world.gather(wrong);
  if (o.check) {
    m.wrong = 0;
    for (uint64_t w : m.rank_wrong) m.wrong += static_cast<int64_t>(w);
  }
  return m;
}

}  // namespace

size_t parse_size(const std::string& text) {
  size_t used = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    raise(ErrorCode::InvalidArgument, "size '{}' is not a number (accepted: 1024, 64K, 32M, 1G)", text);
  }
  std::string suffix = text.substr(used);
  constexpr unsigned long long kKiB = 1024;
  if (suffix.empty()) return value;
  if (suffix == "K" || suffix == "k") return value * kKiB;
  if (suffix == "M" || suffix == "m") return value * kKiB * kKiB;
  if (suffix == "G" || suffix == "g") return value * kKiB * kKiB * kKiB;
  raise(ErrorCode::InvalidArgument, "size '{}' has an unknown suffix '{}' (accepted: K, M, G)", text, suffix);
}

CollResult run_coll(BenchWorld& world, const CollOptions& options) {
  if (options.iterations < 1)
    raise(ErrorCode::InvalidArgument, "-n {} must be at least 1", options.iterations);
  if (options.warmup < 0) raise(ErrorCode::InvalidArgument, "-w {} must not be negative", options.warmup);
  if (options.root < 0 || options.root >= world.size()) {
    raise(ErrorCode::InvalidArgument, "-r {} is not a rank of this {}-rank job", options.root, world.size());
  }
  std::vector<size_t> sizes =
      sweep_sizes(options.min_bytes, options.max_bytes, options.factor, options.increment);
  std::shared_ptr<Communicator> comm = world.communicator(options.backend);
  const bool on_device = options.backend == "nccl";
  const int device = on_device ? comm->local_rank() % std::max(1, device_count()) : 0;

  CollResult result;
  result.backend = options.backend;
  result.ranks = world.size();
  result.nodes = world.num_nodes();
  result.rank_nodes = world.nodes();
  result.checked = options.check;
  Progress progress(options.progress && world.rank() == 0, options.ops.size() * sizes.size());
  double busbw_sum = 0;
  for (CollOp op : options.ops) {
    for (size_t bytes : sizes) {
      progress.step(fmt::format("{} {} B", coll_op_name(op), bytes));
      CollShape shape = coll_shape(op, bytes, options.dtype, world.size());
      RowContext row{op, shape, options, *comm, world.rank(), world.size()};
      size_t element = dtype_size(options.dtype);
      RowBuffers buffers(shape.send_count * element, shape.recv_count * element, on_device, device);
      CollRow out;
      out.op = op;
      out.shape = shape;
      out.dtype = options.dtype;
      out.redop = options.redop;
      out.root = coll_op_rooted(op) ? options.root : -1;
      out.out_of_place = measure(world, row, buffers, false);
      out.in_place = measure(world, row, buffers, true);
      busbw_sum += out.out_of_place.busbw + out.in_place.busbw;
      if (options.check) {
        result.wrong_total += static_cast<uint64_t>(out.out_of_place.wrong + out.in_place.wrong);
      }
      result.rows.push_back(std::move(out));
    }
  }
  progress.finish();
  if (!result.rows.empty()) result.avg_busbw = busbw_sum / (2.0 * static_cast<double>(result.rows.size()));
  return result;
}

}  // namespace myriad::bench

// Throughput of the CPU reduction kernels: in-place sum dst[i] += src[i]
// for every element type at every ISA level the CPU has, at 1 MiB (cache
// resident) and 64 MiB (memory bound) per buffer, next to memcpy of the
// same bytes on the same buffers; and of the f32 <-> f16/bf16 casts at
// every ISA level, on the same sizes of f32 data.
//
// Bytes processed = the size of one input buffer (the bytes reduced into
// dst per call), so "bytes_per_second" reads as GB/s of input reduced; for
// memcpy it is the bytes copied; for a cast, the f32 side's bytes. One
// thread.
//
//   kernels_bench --benchmark_filter=64MiB
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "kernels/cast.h"
#include "kernels/reduce.h"

namespace myriad::kernels {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kBufferSizes[] = {1 * kMiB, 64 * kMiB};
constexpr size_t kAlignment = 64;  // a cache line, and one AVX-512 vector

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<unsigned char, FreeDeleter>;

// A zero-filled buffer: all-zero bytes are 0 in every element type, so a
// sum of zeros keeps the values constant (no overflow, no subnormals to slow
// the floating types) however many iterations run.
Buffer zeroed_buffer(size_t bytes) {
  Buffer buffer(static_cast<unsigned char*>(std::aligned_alloc(kAlignment, bytes)));
  std::memset(buffer.get(), 0, bytes);
  return buffer;
}

void run_reduce(benchmark::State& state, ReduceFn fn, size_t bytes, size_t element_bytes) {
  Buffer dst = zeroed_buffer(bytes);
  Buffer src = zeroed_buffer(bytes);
  const size_t n = bytes / element_bytes;
  for (auto _ : state) {
    fn(dst.get(), dst.get(), src.get(), n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

void run_memcpy(benchmark::State& state, size_t bytes) {
  Buffer dst = zeroed_buffer(bytes);
  Buffer src = zeroed_buffer(bytes);
  for (auto _ : state) {
    std::memcpy(dst.get(), src.get(), bytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

// `f32_bytes` of f32 elements converted per call, in the cast's direction.
void run_cast(benchmark::State& state, Cast cast, CastFn fn, size_t f32_bytes) {
  const size_t n = f32_bytes / sizeof(float);
  Buffer f32 = zeroed_buffer(f32_bytes);
  Buffer narrow = zeroed_buffer(n * sizeof(uint16_t));
  const bool widening = cast == Cast::F16ToF32 || cast == Cast::BF16ToF32;
  for (auto _ : state) {
    if (widening) {
      fn(f32.get(), narrow.get(), n);
    } else {
      fn(narrow.get(), f32.get(), n);
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(f32_bytes));
}

const char* cast_name(Cast cast) {
  switch (cast) {
    case Cast::F32ToF16: return "f32_to_f16";
    case Cast::F16ToF32: return "f16_to_f32";
    case Cast::F32ToBF16: return "f32_to_bf16";
    case Cast::BF16ToF32: return "bf16_to_f32";
  }
  return "?";
}

void register_benchmarks() {
  for (size_t bytes : kBufferSizes) {
    const std::string size = std::to_string(bytes / kMiB) + "MiB";
    benchmark::RegisterBenchmark(("memcpy/" + size).c_str(),
                                 [bytes](benchmark::State& state) { run_memcpy(state, bytes); });
    for (Isa isa : kAllIsas) {
      if (!isa_supported(isa)) continue;
      for (ElementType type : kAllElementTypes) {
        const ReduceFn fn = reduce_function(type, ReduceKind::Sum, isa);
        const std::string name =
            std::string("sum/") + element_type_name(type) + "/" + isa_name(isa) + "/" + size;
        benchmark::RegisterBenchmark(name.c_str(), [fn, bytes, type](benchmark::State& state) {
          run_reduce(state, fn, bytes, element_size(type));
        });
      }
      for (Cast cast : kAllCasts) {
        const CastFn fn = cast_function(cast, isa);
        const std::string name = std::string("cast/") + cast_name(cast) + "/" + isa_name(isa) + "/" + size;
        benchmark::RegisterBenchmark(
            name.c_str(), [cast, fn, bytes](benchmark::State& state) { run_cast(state, cast, fn, bytes); });
      }
    }
  }
}

}  // namespace
}  // namespace myriad::kernels

int main(int argc, char** argv) {
  myriad::kernels::register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// device.h for a build without CUDA: no devices.
#include "launcher/bench/device.h"
#include "runtime/error.h"

namespace myriad::bench {
namespace {
[[noreturn]] void no_cuda(const char* what) {
  raise(ErrorCode::Unavailable, "{}: this build of Myriad has no CUDA", what);
}
}  // namespace

int device_count() {
  return 0;
}
std::string device_name(int) {
  no_cuda("device_name");
}
void set_device(int) {
  no_cuda("set_device");
}
DeviceBuffer::DeviceBuffer(size_t) {
  no_cuda("device memory");
}
DeviceBuffer::~DeviceBuffer() = default;
void DeviceBuffer::upload(const void*, size_t) {
  no_cuda("upload");
}
void DeviceBuffer::download(void*, size_t) const {
  no_cuda("download");
}
double device_copy_gbs(int, size_t, int) {
  no_cuda("device copy bandwidth");
}
double gemm_tflops(const std::string&, size_t, int, int) {
  no_cuda("gemm");
}

}  // namespace myriad::bench

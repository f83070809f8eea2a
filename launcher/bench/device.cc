// device.h over the CUDA plugin (device_plugin.h), loaded on first use. A
// build without CUDA, or one whose plugin or CUDA libraries are missing on
// this machine, has no devices: device_count() is 0 (after one warning
// naming the reason, so that "no GPU" is not mistaken for a missing
// library) and every other call is Error(Unavailable) with that reason.
#include <mutex>

#include "collectives/plugin.h"
#include "launcher/bench/device.h"
#include "launcher/bench/device_plugin.h"
#include "myriad_config.h"
#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad::bench {
namespace {

struct Loaded {
  DeviceApi* api = nullptr;
  std::string reason;  // why `api` is null
};

const Loaded& loaded() {
  static const Loaded instance = [] {
    Loaded out;
    if (!MYRIAD_HAVE_CUDA) {
      out.reason = "this build of Myriad has no CUDA";
      return out;
    }
    try {
      const char* what = "myriad bench's CUDA support";
      Plugin plugin = open_plugin(kDevicePluginFile, what);
      auto entry = reinterpret_cast<DevicePluginEntry>(plugin_symbol(plugin, kDevicePluginEntry, what));
      out.api = entry(kDevicePluginAbi);
      if (out.api == nullptr) {
        out.reason = fmt::format("{}: the plugin {} was built for another ABI than {}: rebuild it", what,
                                 plugin.path, kDevicePluginAbi);
      }
    } catch (const Error& e) {
      out.reason = e.message();
    }
    return out;
  }();
  return instance;
}

DeviceApi& api(const char* what) {
  const Loaded& l = loaded();
  if (l.api == nullptr) raise(ErrorCode::Unavailable, "{}: {}", what, l.reason);
  return *l.api;
}

}  // namespace

int device_count() {
  const Loaded& l = loaded();
  if (l.api == nullptr) {
    // A build with CUDA whose plugin does not load: say so once.
    static std::once_flag warned;
    if (MYRIAD_HAVE_CUDA) std::call_once(warned, [&] { MYRIAD_LOG_WARN("no CUDA devices: {}", l.reason); });
    return 0;
  }
  return l.api->device_count();
}

std::string device_name(int index) {
  return api("device_name").device_name(index);
}

void set_device(int index) {
  api("set_device").set_device(index);
}

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  data_ = api("device memory").allocate(bytes);
}

DeviceBuffer::~DeviceBuffer() {
  // Only a buffer whose constructor succeeded is destroyed: the plugin is loaded.
  loaded().api->release(data_);
}

void DeviceBuffer::upload(const void* host, size_t bytes) {
  api("upload").upload(data_, host, bytes);
}

void DeviceBuffer::download(void* host, size_t bytes) const {
  api("download").download(host, data_, bytes);
}

double device_copy_gbs(int index, size_t bytes, int iterations) {
  return api("device copy bandwidth").device_copy_gbs(index, bytes, iterations);
}

double gemm_tflops(const std::string& dtype, size_t n, int warmup, int iterations) {
  return api("gemm").gemm_tflops(dtype, n, warmup, iterations);
}

}  // namespace myriad::bench

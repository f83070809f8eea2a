// libFuzzer target for the store's wire format (docs/store-protocol.md): the
// input is a byte stream as a client would send it. It is cut into frames
// the way the server does (header, size check, body) and each request body
// is read with the request's schema. Properties: no crash, no read outside
// the input (AddressSanitizer), no undefined behaviour (UBSan), every
// failure a myriad::Error of code Corruption, and each body that reads
// cleanly encodes back (Writer) to a frame that reads to the same fields.
// Built and run by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.h"
#include "runtime/store_protocol.h"

namespace {

namespace proto = myriad::store_protocol;

constexpr uint32_t kMaxBody = 1u << 16;  // the fuzzer's inputs are small

// The fields of one request, as read; equal fields mean equal requests.
struct Fields {
  std::vector<std::string> strings;
  std::vector<int64_t> numbers;
  bool operator==(const Fields&) const = default;
};

Fields read_request(proto::Op op, std::string_view body) {
  proto::Reader r(body);
  Fields f;
  switch (op) {
    case proto::Op::Auth:
    case proto::Op::Delete:
    case proto::Op::DeletePrefix: f.strings.push_back(r.str()); break;
    case proto::Op::Set: f.strings = {r.str(), r.str()}; break;
    case proto::Op::Get:
      f.strings.push_back(r.str());
      f.numbers.push_back(r.millis().count());
      break;
    case proto::Op::Add:
      f.strings.push_back(r.str());
      f.numbers.push_back(r.i64());
      break;
    case proto::Op::CompareSet: f.strings = {r.str(), r.str(), r.str()}; break;
    case proto::Op::Check: f.strings = r.keys(); break;
    case proto::Op::Wait:
      f.strings = r.keys();
      f.numbers.push_back(r.millis().count());
      break;
    case proto::Op::NumKeys: break;
    default: std::abort();  // only requests are read
  }
  r.end();
  return f;
}

std::string write_request(proto::Op op, const Fields& f) {
  proto::Writer w(op);
  switch (op) {
    case proto::Op::Auth:
    case proto::Op::Delete:
    case proto::Op::DeletePrefix:
    case proto::Op::Set:
    case proto::Op::CompareSet:
      for (const std::string& s : f.strings) w.str(s);
      break;
    case proto::Op::Get: w.str(f.strings[0]).millis(std::chrono::milliseconds(f.numbers[0])); break;
    case proto::Op::Add: w.str(f.strings[0]).i64(f.numbers[0]); break;
    case proto::Op::Check: w.keys(f.strings); break;
    case proto::Op::Wait: w.keys(f.strings).millis(std::chrono::milliseconds(f.numbers[0])); break;
    case proto::Op::NumKeys: break;
    default: std::abort();
  }
  return w.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (in.size() >= proto::kHeaderBytes) {
    proto::Header h;
    try {
      h = proto::decode_header(std::span<const char, proto::kHeaderBytes>(in.data(), proto::kHeaderBytes));
    } catch (const myriad::Error& e) {
      if (e.code() != myriad::ErrorCode::Corruption) std::abort();
      return 0;  // the server drops the connection here
    }
    if (h.version != proto::kVersion || h.body_bytes > kMaxBody || !proto::is_request(h.op)) return 0;
    if (in.size() - proto::kHeaderBytes < h.body_bytes) return 0;  // a partial frame waits for more
    std::string_view body = in.substr(proto::kHeaderBytes, h.body_bytes);
    in.remove_prefix(proto::kHeaderBytes + h.body_bytes);
    auto op = static_cast<proto::Op>(h.op);
    Fields fields;
    try {
      fields = read_request(op, body);
    } catch (const myriad::Error& e) {
      if (e.code() != myriad::ErrorCode::Corruption) std::abort();
      return 0;
    }
    std::string again = write_request(op, fields);
    proto::Header h2 =
        proto::decode_header(std::span<const char, proto::kHeaderBytes>(again.data(), proto::kHeaderBytes));
    if (h2.op != h.op || h2.body_bytes != again.size() - proto::kHeaderBytes) std::abort();
    if (read_request(op, std::string_view(again).substr(proto::kHeaderBytes)) != fields) std::abort();
  }
  return 0;
}

#include "collectives/native/op_handshake.h"

#include <cstring>
#include <vector>

#include "collectives/native/wire_tags.h"
#include "runtime/error.h"

namespace myriad {

void exchange_op_descriptor(Executor& executor, int rank, int size, const OpDescriptor& descriptor,
                            const ExecutorOp& op) {
  if (size == 1) return;
  const int next = (rank + 1) % size;
  const int prev = (rank + size - 1) % size;
  uint8_t out[kOpDescriptorWireBytes];
  uint8_t in[kOpDescriptorWireBytes] = {};
  encode_op_descriptor(descriptor, out);
  std::vector<SendRequest> sends = {
      SendRequest{.peer = next, .data = out, .bytes = sizeof(out), .tag = op.tag | kHandshakeBit}};
  std::vector<RecvRequest> recvs = {
      RecvRequest{.peer = prev,
                  .bytes = sizeof(in),
                  .tag = op.tag | kHandshakeBit,
                  .consumer = [&in](uint64_t offset, const void* data, size_t bytes) {
                    std::memcpy(in + offset, data, bytes);
                  }}};
  executor.complete(sends, recvs, op);
  OpDescriptor theirs = decode_op_descriptor(in);
  if (!(theirs == descriptor)) {
    raise(ErrorCode::InvalidArgument,
          "operation mismatch in sequence slot {}: rank {} called {}, rank {} called {}", descriptor.seq,
          prev, theirs.to_string(), rank, descriptor.to_string());
  }
}

}  // namespace myriad

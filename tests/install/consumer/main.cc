// Uses the installed headers and libraries: a store server and client in
// one process, the dtype table, and a checkpoint State checked by the
// checkpoint library.
#include <checkpoint/state.h>
#include <runtime/dtype.h>
#include <runtime/tcp_store.h>

#include <iostream>
#include <vector>

int main() {
  myriad::TcpStoreServer server(myriad::TcpStoreServerOptions{.token = "t"});
  myriad::TcpStore client(myriad::TcpStoreOptions{.port = server.port(), .token = "t"});
  client.set("answer", "42");

  std::vector<float> weights(6, 1.0f);
  myriad::checkpoint::State state;
  state.add_replicated("weights", myriad::TensorView{.data = weights.data(), .count = weights.size()},
                       {2, 3});
  myriad::checkpoint::validate_state(state);  // throws myriad::Error when inconsistent

  std::cout << "consumer: store round trip " << client.get("answer") << ", dtype bf16 is "
            << myriad::dtype_size(myriad::parse_dtype("bf16")) << " bytes, checkpoint state of "
            << state.tensors.size() << " tensor valid\n";
  return 0;
}

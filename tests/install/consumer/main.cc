// Uses the installed headers and libraries: a store server and client in
// one process, and the dtype table.
#include <runtime/dtype.h>
#include <runtime/tcp_store.h>

#include <iostream>

int main() {
  myriad::TcpStoreServer server(myriad::TcpStoreServerOptions{.token = "t"});
  myriad::TcpStore client(myriad::TcpStoreOptions{.port = server.port(), .token = "t"});
  client.set("answer", "42");
  std::cout << "consumer: store round trip " << client.get("answer") << ", dtype bf16 is "
            << myriad::dtype_size(myriad::parse_dtype("bf16")) << " bytes\n";
  return 0;
}

#include "runtime/store_address.h"

#include "runtime/etcd_store.h"
#include "runtime/net.h"
#include "runtime/tcp_store.h"

namespace myriad {

void check_store_address(std::string_view address, std::string_view what) {
  if (is_etcd_address(address)) {
    parse_etcd_address(address, what);
  } else {
    parse_host_port(address, what);
  }
}

std::string store_host(std::string_view address, std::string_view what) {
  if (is_etcd_address(address)) return parse_etcd_address(address, what).endpoints.front().host;
  return parse_host_port(address, what).host;
}

std::shared_ptr<Store> connect_store(std::string_view address, const StoreClientOptions& options,
                                     std::string_view what) {
  if (is_etcd_address(address)) {
    EtcdStoreOptions etcd = parse_etcd_address(address, what);
    etcd.timeout = options.timeout;
    etcd.connect_timeout = options.connect_timeout;
    return std::make_shared<EtcdStore>(std::move(etcd));
  }
  HostPort server = parse_host_port(address, what);
  return std::make_shared<TcpStore>(TcpStoreOptions{.host = server.host,
                                                    .port = server.port,
                                                    .token = options.token,
                                                    .timeout = options.timeout,
                                                    .connect_timeout = options.connect_timeout});
}

}  // namespace myriad

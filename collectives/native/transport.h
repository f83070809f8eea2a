// Transport: moves bytes between this rank and its peers over one kind of
// link (shared memory within a node, TCP between nodes, later UCX).
//
// A communicator owns one transport per link class it uses. Lifecycle:
//   1. construct (allocates local resources: segments, a listening socket)
//   2. address() is published to the other ranks through the store
//   3. connect(peers, addresses, deadline) reaches every peer of this link
//   4. post sends and receives; progress() moves them; the executor waits
//      with wait_for_activity() when nothing moves
//   5. close() (and the destructor) release everything; nothing is left in
//      /dev/shm or on disk, on any exit path the process survives
//
// Semantics. Messages between a pair of ranks arrive in the order they were
// posted. Every message carries a 64-bit tag that the receiver's posted
// receive must match; a different tag means the peers disagree about the
// operation sequence, and progress() throws Error(PeerFailure) naming the
// peer and both tags; so does a message whose length differs from the
// receive's `bytes`. A receive hands the arriving bytes to its Consumer in
// order, in pieces, so that a reduction can consume data straight out of a
// transport's buffer without a further copy (a 0-byte message makes no
// call). A send is complete once its bytes are inside the transport: the
// caller may reuse its buffer; the peer may not have received them yet.
// probe() shows the tag and length of a peer's next message without taking
// it, so that a caller can receive from whichever of several peers sends
// first (an any-source receive) by posting a receive for the one it picks.
//
// Failures are sticky: a dead peer (process gone, connection closed), a
// protocol violation or a received abort makes progress() throw, and every
// later call throws the same error. A peer that closed or exited fails only
// a request that still needs it (what it sent before is delivered first),
// so a rank may close right after its last send. abort() tells every
// connected peer that this rank failed, with a reason they will surface in
// their own error.
//
// Thread-safety: none. One thread (the communicator's progress thread)
// drives a transport; abort() alone may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.h"

namespace myriad {

// Receives arriving bytes: `offset` within the message, `data` valid only
// during the call.
using Consumer = std::function<void(uint64_t offset, const void* data, size_t bytes)>;

struct SendRequest {
  int peer = -1;
  const void* data = nullptr;
  size_t bytes = 0;
  uint64_t tag = 0;
  // Set by the transport.
  size_t done_bytes = 0;
  bool complete = false;
};

struct RecvRequest {
  int peer = -1;
  size_t bytes = 0;
  uint64_t tag = 0;
  Consumer consumer;
  // Set by the transport.
  size_t done_bytes = 0;
  bool complete = false;
};

// What probe() sees of a message that no posted receive has claimed.
struct MessageHeader {
  uint64_t tag = 0;
  size_t bytes = 0;
};

struct TransportOptions {
  int rank = 0;
  int size = 1;
  std::string run_id;                   // names shared-memory segments: /dev/shm/myriad-<run id>-...
  std::string comm_id;                  // unique per communicator within the job
  std::vector<int> pids;                // pid of every rank (for liveness on one node); empty if unknown
  std::string bind_host = "127.0.0.1";  // TCP: address to listen on
  // How long a waiter may poll before it sleeps; unset: the transport's
  // default. Zero when this host runs more ranks than it has cores: a rank
  // that polls then holds the core its peer needs to answer.
  std::optional<std::chrono::nanoseconds> spin;
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual std::string_view name() const = 0;
  // This rank's endpoint, to publish before connect().
  virtual std::string address() const = 0;
  // Connects to `peers` (global ranks); addresses[r] is rank r's address()
  // (entries for ranks outside `peers` are ignored). Throws Timeout naming
  // the peers not reached by the deadline.
  virtual void connect(const std::vector<int>& peers, const std::vector<std::string>& addresses,
                       std::chrono::steady_clock::time_point deadline) = 0;

  // Queue a send or receive. The request must stay alive and unmoved until
  // it is complete or the transport has failed.
  virtual void post(SendRequest* request) = 0;
  virtual void post(RecvRequest* request) = 0;
  // The header of the next message from `peer`, once it has begun to
  // arrive; nullopt while nothing has, or while a posted receive from `peer`
  // is pending (that receive takes the front message first). Never takes
  // the message. A peer that died or aborted with nothing left buffered
  // fails the transport with PeerFailure naming it, as a pending receive
  // from it would; one that closed its transport on purpose is not a
  // failure (nullopt; finished() tells). Throws the transport's sticky error.
  virtual std::optional<MessageHeader> probe(int peer) = 0;
  // The peer closed its transport on purpose and nothing it sent is left
  // unclaimed: it will send nothing more (an any-source receive stops
  // waiting for it).
  virtual bool finished(int peer) = 0;
  // Moves posted requests forward without blocking; returns whether
  // anything moved. Throws the transport's sticky error.
  virtual bool progress() = 0;
  // Blocks until data may have arrived, space may have freed, or `timeout`
  // passes (futex, epoll). Throws the sticky error if a peer died.
  virtual void wait_for_activity(std::chrono::microseconds timeout) = 0;

  // Tells every connected peer that this rank failed; best effort, never
  // blocks for long. The transport is failed afterwards.
  virtual void abort(const Error& reason) = 0;
  // Releases every resource; idempotent.
  virtual void close() = 0;
};

}  // namespace myriad

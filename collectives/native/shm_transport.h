// ShmTransport: moves messages between ranks of one node through POSIX
// shared memory. Protocol, layout and waiting: docs/transports.md.
//
// Each rank owns one segment, /dev/shm/myriad-<run_id>-<comm_id>-<rank>,
// holding its inbound fifos, one per local peer (spsc_fifo.h). A send
// copies the message, piece by piece, into free cells of the fifo in the
// peer's segment; the receiver hands each cell's bytes to its Consumer
// straight from shared memory (a reduction reads the cell itself) and then
// frees the cell. In the steady state no call enters the kernel: waiting
// spins for ShmConfig::spin, then sleeps on a futex in the rank's own
// segment, which peers wake only when its sleeper count is non-zero.
//
// Lifecycle: the constructor allocates nothing shared. connect() creates
// this rank's segment (its fifos are known only with the peer list), maps
// every peer's, and returns once every peer has mapped this rank's; the
// name is unlinked at that point (the handshake goes through the segments'
// `attached` counters, no barrier of the caller is needed), so a crash after
// connect() leaves nothing in /dev/shm. The peer lists of all ranks must be
// symmetric (p lists q iff q lists p).
//
// Failure: a peer whose process exits (pidfd, polled at most every
// kShmLivenessInterval while idle) or which closed its transport fails this
// transport as soon as a pending or later request needs it (bytes it left in
// the fifo are still delivered first); a peer's abort() fails it at once,
// with the peer's reason. Errors are sticky (sticky_failure.h).
//
// Thread-safety: as Transport: one driving thread; abort() from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collectives/native/process_watch.h"
#include "collectives/native/shm_segment.h"
#include "collectives/native/spsc_fifo.h"
#include "collectives/native/sticky_failure.h"
#include "collectives/native/transport.h"

namespace myriad {

// Cells per fifo and bytes per cell. Measured with transport_bench
// (docs/BENCHMARKS.md): 8 x 256 KiB streams at the rate of the
// larger shapes while a fifo costs 2 MiB per peer pair.
inline constexpr uint32_t kShmSlots = 8;
inline constexpr size_t kShmSlotBytes = 256 << 10;
// How long a waiter polls before it sleeps on the futex. 8 B ping-pong is
// bimodal on a shared 2-vCPU host: ~1.5 us per round trip while both ranks
// hold a core, but a long spin steals the core from an oversubscribed peer
// (100 us: up to 640 us per round trip; 0-5 us: 37-130 us, each message
// paying a futex wake). 20 us keeps the fast mode for a peer that answers
// at once and bounds the theft (docs/BENCHMARKS.md).
inline constexpr std::chrono::nanoseconds kShmSpin{20'000};
// Upper bound of one futex sleep, so that a dead peer (which wakes nobody)
// is noticed within this much.
inline constexpr std::chrono::milliseconds kShmLivenessInterval{10};
// Interval between attempts to map a peer's segment during connect().
inline constexpr std::chrono::microseconds kShmConnectPoll{200};

struct ShmConfig {
  uint32_t slots = kShmSlots;
  size_t slot_bytes = kShmSlotBytes;
  std::chrono::nanoseconds spin = kShmSpin;
};

class ShmTransport final : public Transport {
 public:
  explicit ShmTransport(TransportOptions options, ShmConfig config = {});
  ~ShmTransport() override;

  std::string_view name() const override { return "shm"; }
  // "<segment name>#<nonce in hex>"; the nonce tells this incarnation's
  // segment from a stale one of the same name.
  std::string address() const override;
  void connect(const std::vector<int>& peers, const std::vector<std::string>& addresses,
               std::chrono::steady_clock::time_point deadline) override;

  void post(SendRequest* request) override;
  void post(RecvRequest* request) override;
  std::optional<MessageHeader> probe(int rank) override;
  bool finished(int rank) override;
  bool progress() override;
  void wait_for_activity(std::chrono::microseconds timeout) override;
  void abort(const Error& reason) override;
  void close() override;

  const ShmConfig& config() const { return config_; }

 private:
  struct Peer {
    int rank = -1;
    pid_t pid = 0;
    std::unique_ptr<ShmSegment> segment;  // the peer's: holds our outbound fifo
    FifoProducer out;
    FifoConsumer in;
    std::deque<SendRequest*> sends;
    std::deque<RecvRequest*> recvs;
    bool exited = false;  // its process is gone
  };

  void connect_segments(const std::vector<int>& peers, const std::vector<std::string>& addresses,
                        std::chrono::steady_clock::time_point deadline);
  Peer& peer_of(int rank, const char* what);
  bool push_sends(Peer& peer);
  bool pull_recvs(Peer& peer);
  void notify(SegmentHeader* header);
  bool may_move();
  // Fails the transport when a peer aborted, or exited/closed while a
  // request needs it. `poll_processes` also polls the pidfds.
  void check_peers(bool poll_processes);
  [[noreturn]] void fail_peer(Peer& peer, const std::string& what);
  std::string pending_text(Peer& peer);

  TransportOptions options_;
  ShmConfig config_;
  uint64_t nonce_ = 0;
  std::string segment_name_;
  std::unique_ptr<ShmSegment> own_;
  std::vector<Peer> peers_;
  std::vector<int> peer_index_;  // by global rank; -1 when not a peer
  ProcessWatch watch_;
  std::chrono::steady_clock::time_point next_liveness_check_{};
  StickyFailure failure_;
  // Guards own_ and the peers' segments against abort() on another thread
  // while connect() or close() changes them.
  std::mutex segments_mutex_;
  bool closed_ = false;
};

}  // namespace myriad

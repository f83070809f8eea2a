#include "collectives/native/shm_transport.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <thread>

#include <fmt/ranges.h>

#include "collectives/native/futex.h"

namespace myriad {
namespace {

using Clock = std::chrono::steady_clock;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

uint64_t make_nonce() {
  std::random_device device;
  const uint64_t high = device();
  return (high << 32) ^ device() ^ static_cast<uint64_t>(::getpid()) ^
         static_cast<uint64_t>(Clock::now().time_since_epoch().count());
}

struct ParsedAddress {
  std::string segment;
  uint64_t nonce = 0;
};

ParsedAddress parse_address(const std::string& address, int rank, int peer) {
  const size_t hash = address.rfind('#');
  if (hash == std::string::npos || hash + 1 == address.size()) {
    raise(ErrorCode::InvalidArgument,
          "rank {}: shm address of peer rank {} is '{}', expected '<segment>#<nonce>'", rank, peer, address);
  }
  ParsedAddress parsed{address.substr(0, hash), 0};
  const std::string hex = address.substr(hash + 1);
  char* end = nullptr;
  parsed.nonce = std::strtoull(hex.c_str(), &end, 16);
  if (end == nullptr || *end != '\0') {
    raise(ErrorCode::InvalidArgument, "rank {}: shm address of peer rank {} has a bad nonce: '{}'", rank,
          peer, address);
  }
  return parsed;
}

std::string read_reason(const SegmentHeader* header) {
  const char* begin = header->reason;
  return std::string(begin, strnlen(begin, kShmReasonBytes));
}

}  // namespace

ShmTransport::ShmTransport(TransportOptions options, ShmConfig config)
    : options_(std::move(options)), config_(config), nonce_(make_nonce()) {
  if (options_.rank < 0 || options_.rank >= options_.size) {
    raise(ErrorCode::InvalidArgument, "shm transport: rank {} is outside world size {}", options_.rank,
          options_.size);
  }
  if (config_.slots == 0 || config_.slot_bytes == 0 || config_.slot_bytes % kCacheLineBytes != 0) {
    raise(ErrorCode::InvalidArgument,
          "shm transport: {} slots of {} bytes; need at least one slot of a "
          "non-zero multiple of {} bytes",
          config_.slots, config_.slot_bytes, kCacheLineBytes);
  }
  if (options_.spin) config_.spin = *options_.spin;
  segment_name_ = shm_segment_name(options_.run_id, options_.comm_id, options_.rank);
}

ShmTransport::~ShmTransport() {
  close();
}

std::string ShmTransport::address() const {
  return fmt::format("{}#{:016x}", segment_name_, nonce_);
}

void ShmTransport::connect(const std::vector<int>& peers, const std::vector<std::string>& addresses,
                           Clock::time_point deadline) {
  failure_.throw_if_failed();
  try {
    connect_segments(peers, addresses, deadline);
  } catch (const Error& error) {
    // A half-made connection is failed for good; close() (or the
    // destructor) removes our segment if it is still named.
    failure_.set(error);
    throw;
  }
}

void ShmTransport::connect_segments(const std::vector<int>& peers, const std::vector<std::string>& addresses,
                                    Clock::time_point deadline) {
  const int rank = options_.rank;
  if (own_ != nullptr || !peers_.empty()) {
    raise(ErrorCode::InvalidArgument, "rank {}: shm transport connect() called twice", rank);
  }
  if (addresses.size() != static_cast<size_t>(options_.size)) {
    raise(ErrorCode::InvalidArgument, "rank {}: shm connect got {} addresses for world size {}", rank,
          addresses.size(), options_.size);
  }
  peer_index_.assign(static_cast<size_t>(options_.size), -1);
  std::vector<ParsedAddress> parsed;
  std::vector<int> producers;
  for (int p : peers) {
    if (p < 0 || p >= options_.size || p == rank || peer_index_[static_cast<size_t>(p)] >= 0) {
      raise(ErrorCode::InvalidArgument, "rank {}: shm connect peer list has invalid or repeated rank {}",
            rank, p);
    }
    peer_index_[static_cast<size_t>(p)] = static_cast<int>(producers.size());
    producers.push_back(p);
    parsed.push_back(parse_address(addresses[static_cast<size_t>(p)], rank, p));
    const std::string expected = shm_segment_name(options_.run_id, options_.comm_id, p);
    if (parsed.back().segment != expected) {
      raise(ErrorCode::InvalidArgument,
            "rank {}: shm address of peer rank {} names segment '{}', expected '{}'", rank, p,
            parsed.back().segment, expected);
    }
  }
  if (peers.empty()) return;

  {
    std::lock_guard lock(segments_mutex_);
    own_ = ShmSegment::create(segment_name_,
                              ShmSegment::Layout{rank, nonce_, producers, config_.slots, config_.slot_bytes});
    peers_.resize(peers.size());
  }
  const bool pids_known = options_.pids.size() == static_cast<size_t>(options_.size);
  for (size_t i = 0; i < peers.size(); ++i) {
    peers_[i].rank = peers[i];
    peers_[i].pid = pids_known ? options_.pids[static_cast<size_t>(peers[i])] : 0;
    peers_[i].in = FifoConsumer(own_->fifo(static_cast<int>(i)));
  }

  // Handshake through the segments: map every peer's segment and count
  // ourselves in its `attached`; our name is unlinked once every peer has
  // counted itself in ours. Peers create their segments at their own pace,
  // so the mapping is retried until the deadline.
  size_t mapped = 0;
  auto next_death_check = Clock::now();
  while (true) {
    for (size_t i = 0; i < peers_.size(); ++i) {
      Peer& peer = peers_[i];
      if (peer.segment != nullptr) continue;
      std::unique_ptr<ShmSegment> segment = ShmSegment::open(parsed[i].segment, parsed[i].nonce);
      if (segment == nullptr) continue;
      SegmentHeader* header = segment->header();
      const int index = segment->fifo_index(rank);
      if (header->owner_rank != peer.rank || index < 0) {
        raise(
            ErrorCode::InvalidArgument,
            "rank {}: segment {} of peer rank {} belongs to rank {} and has {} fifo for rank {}: the ranks' "
            "peer lists disagree",
            rank, parsed[i].segment, peer.rank, header->owner_rank, index < 0 ? "no" : "a", rank);
      }
      if (peer.pid <= 0) peer.pid = header->owner_pid;
      peer.out = FifoProducer(segment->fifo(index));
      header->attached.fetch_add(1, std::memory_order_acq_rel);
      {
        std::lock_guard lock(segments_mutex_);
        peer.segment = std::move(segment);
      }
      ++mapped;
    }
    const bool all_attached = own_->header()->attached.load(std::memory_order_acquire) >= peers_.size();
    if (mapped == peers_.size() && all_attached) break;
    const auto now = Clock::now();
    if (now >= deadline) {
      std::vector<int> missing;
      for (const Peer& peer : peers_) {
        if (peer.segment == nullptr) missing.push_back(peer.rank);
      }
      raise(
          ErrorCode::Timeout,
          "rank {}: shm connect timed out: segments of peer ranks [{}] not found; {} of {} peers have mapped "
          "ours ({})",
          rank, fmt::join(missing, ", "), own_->header()->attached.load(), peers_.size(), segment_name_);
    }
    if (now >= next_death_check) {
      next_death_check = now + kShmLivenessInterval;
      for (const Peer& peer : peers_) {
        if (peer.pid > 0 && ::kill(peer.pid, 0) != 0 && errno == ESRCH) {
          raise(ErrorCode::PeerFailure, "rank {}: peer rank {} (pid {}) died during shm connect", rank,
                peer.rank, peer.pid);
        }
      }
    }
    std::this_thread::sleep_for(kShmConnectPoll);
  }
  // Every peer holds a mapping now: the name has no further use, and
  // removing it here means a crash from now on leaves nothing in /dev/shm.
  own_->unlink();

  std::vector<pid_t> pids;
  for (const Peer& peer : peers_) pids.push_back(peer.pid);
  watch_ = ProcessWatch(std::move(pids));
}

ShmTransport::Peer& ShmTransport::peer_of(int rank, const char* what) {
  const int index =
      rank >= 0 && rank < options_.size && !peer_index_.empty() ? peer_index_[static_cast<size_t>(rank)] : -1;
  if (index < 0 || peers_.empty()) {
    raise(ErrorCode::InvalidArgument, "rank {}: {} posted for rank {}, which is not a connected shm peer",
          options_.rank, what, rank);
  }
  return peers_[static_cast<size_t>(index)];
}

void ShmTransport::post(SendRequest* request) {
  failure_.throw_if_failed();
  Peer& peer = peer_of(request->peer, "send");
  request->done_bytes = 0;
  request->complete = false;
  peer.sends.push_back(request);
}

void ShmTransport::post(RecvRequest* request) {
  failure_.throw_if_failed();
  Peer& peer = peer_of(request->peer, "receive");
  request->done_bytes = 0;
  request->complete = false;
  peer.recvs.push_back(request);
}

std::optional<MessageHeader> ShmTransport::probe(int rank) {
  failure_.throw_if_failed();
  Peer& peer = peer_of(rank, "probe");
  if (!peer.recvs.empty()) return std::nullopt;
  // Whether the peer is gone is read before the fifo: what it published
  // before going is then visible and is delivered first.
  const SegmentHeader* header = peer.segment->header();
  const auto state = static_cast<SegmentState>(header->state.load(std::memory_order_acquire));
  if (peer.in.has_data()) {
    // No receive is posted, so the previous message was taken whole and
    // the front cell starts a message.
    const SlotHeader* slot = peer.in.front_header();
    return MessageHeader{.tag = slot->tag, .bytes = slot->message_bytes};
  }
  if (state == SegmentState::Aborted) {
    failure_.fail(Error(ErrorCode::PeerFailure,
                        fmt::format("rank {}: peer rank {} aborted: {} (during a receive from any peer)",
                                    options_.rank, peer.rank, read_reason(header))));
  }
  // A peer that closed its transport sends nothing more: finished(), not a
  // failure. One that exited without closing it died.
  if (peer.exited && state != SegmentState::Closed) {
    failure_.fail(Error(ErrorCode::PeerFailure,
                        fmt::format("rank {}: peer rank {} (pid {}) died during a receive from any peer",
                                    options_.rank, peer.rank, peer.pid)));
  }
  return std::nullopt;
}

bool ShmTransport::finished(int rank) {
  Peer& peer = peer_of(rank, "finished");
  const auto state = static_cast<SegmentState>(peer.segment->header()->state.load(std::memory_order_acquire));
  return state == SegmentState::Closed && !peer.in.has_data();
}

void ShmTransport::notify(SegmentHeader* header) {
  // A read-modify-write of `sleepers`, paired with the sleeper's increment
  // in wait_for_activity(): if ours comes first in the word's order, the
  // sleeper's increment reads from it and so sees what we published before
  // (release/acquire through the RMW chain); if the sleeper's comes first,
  // we read a non-zero count and wake it. (An RMW rather than a fence plus
  // a load: also well-defined for ThreadSanitizer.)
  if (header->sleepers.fetch_add(0, std::memory_order_seq_cst) != 0) {
    header->doorbell.fetch_add(1, std::memory_order_release);
    futex_wake_all(&header->doorbell);
  }
}

bool ShmTransport::push_sends(Peer& peer) {
  bool moved = false;
  // At most one ring's worth per call, so one busy peer cannot starve the
  // others of the driving thread.
  for (uint32_t budget = peer.out.view().slots(); budget > 0 && !peer.sends.empty() && peer.out.has_space();
       --budget) {
    SendRequest* send = peer.sends.front();
    const size_t piece = std::min(peer.out.view().slot_bytes(), send->bytes - send->done_bytes);
    *peer.out.next_header() = SlotHeader{send->tag, send->bytes, send->done_bytes, piece};
    if (piece > 0)
      std::memcpy(peer.out.next_data(), static_cast<const char*>(send->data) + send->done_bytes, piece);
    peer.out.publish();
    notify(peer.segment->header());
    send->done_bytes += piece;
    moved = true;
    if (send->done_bytes == send->bytes) {
      send->complete = true;
      peer.sends.pop_front();
    }
  }
  return moved;
}

bool ShmTransport::pull_recvs(Peer& peer) {
  bool moved = false;
  while (!peer.recvs.empty() && peer.in.has_data()) {
    RecvRequest* recv = peer.recvs.front();
    const SlotHeader header = *peer.in.front_header();
    if (header.tag != recv->tag || header.message_bytes != recv->bytes) {
      failure_.fail(Error(
          ErrorCode::PeerFailure,
          fmt::format("rank {}: message from peer rank {} does not match the posted receive: it "
                      "carries tag {:#x} and {} bytes, the receive expects tag {:#x} and {} bytes "
                      "(the ranks disagree about the operation sequence)",
                      options_.rank, peer.rank, header.tag, header.message_bytes, recv->tag, recv->bytes)));
    }
    if (header.offset != recv->done_bytes || header.piece_bytes > config_.slot_bytes ||
        header.piece_bytes > recv->bytes - recv->done_bytes) {
      failure_.fail(
          Error(ErrorCode::PeerFailure,
                fmt::format("rank {}: corrupt fifo from peer rank {}: piece of {} bytes at offset {} for "
                            "tag {:#x}, expected offset {}",
                            options_.rank, peer.rank, header.piece_bytes, header.offset, recv->tag,
                            recv->done_bytes)));
    }
    if (header.piece_bytes > 0 && recv->consumer) {
      try {
        recv->consumer(header.offset, peer.in.front_data(), header.piece_bytes);
      } catch (const Error& error) {
        failure_.fail(error);
      } catch (const std::exception& error) {
        failure_.fail(Error(ErrorCode::Internal,
                            fmt::format("rank {}: consumer of receive tag {:#x} from peer rank {} threw: {}",
                                        options_.rank, recv->tag, peer.rank, error.what())));
      }
    }
    recv->done_bytes += header.piece_bytes;
    peer.in.release();
    notify(peer.segment->header());
    moved = true;
    if (recv->done_bytes == recv->bytes) {
      recv->complete = true;
      peer.recvs.pop_front();
    }
  }
  return moved;
}

bool ShmTransport::progress() {
  failure_.throw_if_failed();
  bool moved = false;
  for (Peer& peer : peers_) {
    moved |= push_sends(peer);
    moved |= pull_recvs(peer);
  }
  if (!moved) {
    const auto now = Clock::now();
    const bool poll = now >= next_liveness_check_;
    if (poll) next_liveness_check_ = now + kShmLivenessInterval;
    check_peers(poll);
  }
  return moved;
}

bool ShmTransport::may_move() {
  if (failure_.failed()) return true;
  for (Peer& peer : peers_) {
    if (!peer.recvs.empty() && peer.in.has_data()) return true;
    if (!peer.sends.empty() && peer.out.has_space()) return true;
    const auto state =
        static_cast<SegmentState>(peer.segment->header()->state.load(std::memory_order_acquire));
    // An aborted or closed peer matters only to what is pending with it.
    if ((state == SegmentState::Aborted || state == SegmentState::Closed) &&
        (!peer.sends.empty() || !peer.recvs.empty())) {
      return true;
    }
  }
  return false;
}

void ShmTransport::wait_for_activity(std::chrono::microseconds timeout) {
  failure_.throw_if_failed();
  const auto deadline = Clock::now() + timeout;
  if (own_ == nullptr) {  // no peers: nothing can arrive
    std::this_thread::sleep_for(std::min<std::chrono::microseconds>(timeout, kShmLivenessInterval));
    return;
  }
  // Spin first: a peer that is mid-operation answers within microseconds,
  // far sooner than a futex sleep and wake-up round trip.
  const auto spin_end = Clock::now() + std::min<Clock::duration>(config_.spin, timeout);
  do {
    if (may_move()) return;
    for (int i = 0; i < 16; ++i) cpu_relax();
  } while (Clock::now() < spin_end);

  SegmentHeader* me = own_->header();
  while (true) {
    const uint32_t seq = me->doorbell.load(std::memory_order_acquire);
    me->sleepers.fetch_add(1, std::memory_order_seq_cst);  // pairs with notify()
    const bool ready = may_move();
    auto now = Clock::now();
    if (!ready && now < deadline) {
      futex_wait(&me->doorbell, seq, std::min<Clock::duration>(deadline - now, kShmLivenessInterval));
    }
    me->sleepers.fetch_sub(1, std::memory_order_seq_cst);
    if (ready) return;
    now = Clock::now();
    next_liveness_check_ = now + kShmLivenessInterval;
    check_peers(/*poll_processes=*/true);
    if (now >= deadline || may_move()) return;
  }
}

std::string ShmTransport::pending_text(Peer& peer) {
  if (!peer.sends.empty()) {
    const SendRequest* send = peer.sends.front();
    return fmt::format("send tag {:#x} ({} of {} bytes sent)", send->tag, send->done_bytes, send->bytes);
  }
  const RecvRequest* recv = peer.recvs.front();
  return fmt::format("receive tag {:#x} ({} of {} bytes received)", recv->tag, recv->done_bytes, recv->bytes);
}

void ShmTransport::fail_peer(Peer& peer, const std::string& what) {
  failure_.fail(
      Error(ErrorCode::PeerFailure, fmt::format("rank {}: peer rank {} (pid {}) {} during {}", options_.rank,
                                                peer.rank, peer.pid, what, pending_text(peer))));
}

void ShmTransport::check_peers(bool poll_processes) {
  if (poll_processes && !peers_.empty()) {
    const std::vector<bool>& exited = watch_.poll();
    for (size_t i = 0; i < peers_.size(); ++i) peers_[i].exited = exited[i];
  }
  for (Peer& peer : peers_) {
    const SegmentHeader* header = peer.segment->header();
    const auto state = static_cast<SegmentState>(header->state.load(std::memory_order_acquire));
    if (state == SegmentState::Aborted) {
      // A peer aborts on an operation later than ours only after finishing
      // ours, so what it sent us before aborting (published before the
      // state, read after it) may still complete what we wait for: fail
      // only what can no longer complete, as for a peer that died.
      if (!peer.sends.empty() || (!peer.recvs.empty() && !peer.in.has_data())) {
        failure_.fail(Error(ErrorCode::PeerFailure,
                            fmt::format("rank {}: peer rank {} aborted: {} (during {})", options_.rank,
                                        peer.rank, read_reason(header), pending_text(peer))));
      }
      continue;
    }
    if (!peer.exited && state != SegmentState::Closed) continue;
    const char* what = state == SegmentState::Closed ? "closed its transport" : "died";
    // A gone peer can neither drain our sends nor add to what its fifo
    // holds (loaded after we learnt it is gone), so only that remains.
    if (!peer.sends.empty()) fail_peer(peer, what);
    if (!peer.recvs.empty() && !peer.in.has_data()) fail_peer(peer, what);
  }
}

void ShmTransport::abort(const Error& reason) {
  failure_.set(Error(reason.code(),
                     fmt::format("rank {}: shm transport aborted: {}", options_.rank, reason.message())));
  std::lock_guard lock(segments_mutex_);
  if (own_ == nullptr) return;
  SegmentHeader* me = own_->header();
  if (me->state.load(std::memory_order_relaxed) == static_cast<uint32_t>(SegmentState::Open)) {
    const std::string text = fmt::format("rank {}: {}", options_.rank, reason.message());
    const size_t n = std::min(text.size(), kShmReasonBytes - 1);
    std::memcpy(me->reason, text.data(), n);
    me->reason[n] = '\0';
    me->state.store(static_cast<uint32_t>(SegmentState::Aborted), std::memory_order_release);
  }
  for (Peer& peer : peers_) {
    if (peer.segment != nullptr) notify(peer.segment->header());
  }
  // Our own driving thread may sleep in wait_for_activity().
  notify(me);
}

void ShmTransport::close() {
  std::lock_guard lock(segments_mutex_);
  if (closed_) return;
  closed_ = true;
  failure_.set(Error(ErrorCode::InvalidArgument,
                     fmt::format("rank {}: shm transport used after close()", options_.rank)));
  if (own_ != nullptr) {
    uint32_t open = static_cast<uint32_t>(SegmentState::Open);
    own_->header()->state.compare_exchange_strong(open, static_cast<uint32_t>(SegmentState::Closed),
                                                  std::memory_order_release);
    // Wake peers that wait on us so that they see the state at once.
    try {
      for (Peer& peer : peers_) {
        if (peer.segment != nullptr) notify(peer.segment->header());
      }
    } catch (const Error&) {
      // A failed wake only delays a peer until its next liveness check.
    }
  }
  peers_.clear();
  own_.reset();  // unlinks the name if connect() did not get that far
  watch_.close();
}

}  // namespace myriad

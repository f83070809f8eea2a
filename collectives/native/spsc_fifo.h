// SpscFifo: a single-producer single-consumer ring of fixed-size slots in
// shared memory, the data path of the shm transport (docs/transports.md).
//
// Memory layout of one fifo (FifoControl, then `slots` cells):
//   [cache line] head  - slots published so far; written by the producer only
//   [cache line] tail  - slots released so far; written by the consumer only
//   cell i = [SlotHeader, padded to a cache line][slot_bytes of data]
// head and tail sit on separate cache lines so that the producer's and the
// consumer's stores never contend for one line. Both counters only grow;
// slot i holds sequence numbers i, i + slots, ...
//
// Ordering: the producer fills a cell, then stores head with release; the
// consumer loads head with acquire before reading the cell, and stores tail
// with release after its last read, which the producer's acquire load of
// tail pairs with before it reuses the cell. No syscall on this path.
//
// FifoProducer and FifoConsumer are process-local views (each caches the
// other side's counter to touch the shared line only when it must).
// Thread-safety: one thread per view; one producer and one consumer per fifo.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace myriad {

inline constexpr size_t kCacheLineBytes = 64;

struct FifoControl {
  alignas(kCacheLineBytes) std::atomic<uint64_t> head{0};
  alignas(kCacheLineBytes) std::atomic<uint64_t> tail{0};
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "fifo counters are shared between processes");
static_assert(sizeof(FifoControl) == 2 * kCacheLineBytes);

// Describes the piece of a message one cell carries. Messages are cut into
// pieces of at most slot_bytes; a 0-byte message still takes one cell.
struct SlotHeader {
  uint64_t tag;            // the message's tag
  uint64_t message_bytes;  // the whole message's length
  uint64_t offset;         // where this piece starts within the message
  uint64_t piece_bytes;    // bytes of data in this cell
};
inline constexpr size_t kSlotHeaderBytes = kCacheLineBytes;
static_assert(sizeof(SlotHeader) <= kSlotHeaderBytes);

// Bytes one fifo occupies: control lines plus `slots` cells.
constexpr size_t fifo_bytes(uint32_t slots, size_t slot_bytes) {
  return sizeof(FifoControl) + size_t{slots} * (kSlotHeaderBytes + slot_bytes);
}

class FifoView {
 public:
  FifoView() = default;
  FifoView(void* base, uint32_t slots, size_t slot_bytes)
      : control_(static_cast<FifoControl*>(base)),
        cells_(static_cast<char*>(base) + sizeof(FifoControl)),
        slots_(slots),
        slot_bytes_(slot_bytes) {}

  FifoControl* control() const { return control_; }
  uint32_t slots() const { return slots_; }
  size_t slot_bytes() const { return slot_bytes_; }
  SlotHeader* header(uint64_t seq) const { return reinterpret_cast<SlotHeader*>(cell(seq)); }
  char* data(uint64_t seq) const { return cell(seq) + kSlotHeaderBytes; }

 private:
  char* cell(uint64_t seq) const { return cells_ + (seq % slots_) * (kSlotHeaderBytes + slot_bytes_); }

  FifoControl* control_ = nullptr;
  char* cells_ = nullptr;
  uint32_t slots_ = 0;
  size_t slot_bytes_ = 0;
};

class FifoProducer {
 public:
  FifoProducer() = default;
  explicit FifoProducer(FifoView view)
      : view_(view), head_(view.control()->head.load(std::memory_order_relaxed)), tail_(head_) {}

  const FifoView& view() const { return view_; }
  // Whether a cell is free; reads the consumer's tail only when the cached
  // value says the ring is full.
  bool has_space() {
    if (head_ - tail_ < view_.slots()) return true;
    tail_ = view_.control()->tail.load(std::memory_order_acquire);
    return head_ - tail_ < view_.slots();
  }
  // The cell to fill next. Precondition: has_space().
  SlotHeader* next_header() const { return view_.header(head_); }
  char* next_data() const { return view_.data(head_); }
  // Hands the filled cell to the consumer.
  void publish() { view_.control()->head.store(++head_, std::memory_order_release); }

 private:
  FifoView view_;
  uint64_t head_ = 0;
  uint64_t tail_ = 0;  // cached consumer tail
};

class FifoConsumer {
 public:
  FifoConsumer() = default;
  explicit FifoConsumer(FifoView view)
      : view_(view), tail_(view.control()->tail.load(std::memory_order_relaxed)), head_(tail_) {}

  // Whether a published cell waits; reads the producer's head only when the
  // cached value says the ring is empty.
  bool has_data() {
    if (tail_ != head_) return true;
    head_ = view_.control()->head.load(std::memory_order_acquire);
    return tail_ != head_;
  }
  // The oldest published cell. Precondition: has_data().
  const SlotHeader* front_header() const { return view_.header(tail_); }
  const char* front_data() const { return view_.data(tail_); }
  // Gives the oldest cell back to the producer.
  void release() { view_.control()->tail.store(++tail_, std::memory_order_release); }

 private:
  FifoView view_;
  uint64_t tail_ = 0;
  uint64_t head_ = 0;  // cached producer head
};

}  // namespace myriad

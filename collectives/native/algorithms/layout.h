// Element layouts the algorithms share: how a vector splits into blocks, and
// how an element range becomes a byte Span of a bound buffer.
//
// Counts and offsets here are in elements; a Span is made only at the end,
// so every span covers whole elements. All functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "collectives/native/schedule.h"

namespace myriad {

// `count` elements at element `offset` of some layout.
struct Block {
  uint64_t offset = 0;
  uint64_t count = 0;
};

// `count` split into `parts` blocks back to back; sizes differ by at most
// one, the larger ones first (so count < parts leaves trailing empty blocks).
std::vector<Block> even_blocks(uint64_t count, int parts);
// Blocks of the given sizes back to back.
std::vector<Block> blocks_of(const std::vector<uint64_t>& counts);
// The blocks [first, last) as one block (they are contiguous).
Block merge_blocks(const std::vector<Block>& blocks, int first, int last);
uint64_t total_count(const std::vector<Block>& blocks);

// Blocks of a layout: even_blocks(count, parts) computed per index (O(1)
// memory however many parts), or a list (shared by copies). What the
// schedules computed a round at a time (schedule_source.h) hold.
class ChunkLayout {
 public:
  static ChunkLayout even(uint64_t count, int parts);
  static ChunkLayout listed(std::vector<Block> blocks);

  int parts() const { return parts_; }
  Block at(int index) const;
  uint64_t largest() const;  // elements

 private:
  int parts_ = 0;
  uint64_t count_ = 0;                              // even
  std::shared_ptr<const std::vector<Block>> list_;  // listed
};

// Where element 0 of a layout sits: a buffer and a byte offset into it.
struct Region {
  BufferId buffer = BufferId::Input;
  uint64_t offset = 0;  // bytes
};

// The bytes of `block` of a layout placed at `region`.
Span span_at(Region region, Block block, size_t element_bytes);
// The bytes of elements [offset, offset + count) of `buffer`.
Span element_span(BufferId buffer, uint64_t offset, uint64_t count, size_t element_bytes);
// Slice `index` of `slices` of a span: element-aligned, sizes differ by at most one element.
Span slice_span(const Span& span, int index, int slices, size_t element_bytes);

// Smallest k with 2^k >= n (0 for n <= 1), and the largest power of two <= n.
int ceil_log2(int n);
int floor_pow2(int n);

// Appends an empty round and returns it (references stay valid until the next append).
Round& add_round(Schedule& schedule);

}  // namespace myriad

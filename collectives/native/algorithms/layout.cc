// Element layouts shared by the algorithms.
#include "collectives/native/algorithms/layout.h"

#include <algorithm>
#include <utility>

#include "runtime/error.h"

namespace myriad {

std::vector<Block> even_blocks(uint64_t count, int parts) {
  MYRIAD_CHECK(parts > 0, "even_blocks into {} parts", parts);
  std::vector<Block> blocks(parts);
  const uint64_t base = count / parts;
  const uint64_t extra = count % parts;
  uint64_t offset = 0;
  for (int i = 0; i < parts; ++i) {
    blocks[i].offset = offset;
    blocks[i].count = base + (static_cast<uint64_t>(i) < extra ? 1 : 0);
    offset += blocks[i].count;
  }
  return blocks;
}

std::vector<Block> blocks_of(const std::vector<uint64_t>& counts) {
  std::vector<Block> blocks(counts.size());
  uint64_t offset = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    blocks[i] = {offset, counts[i]};
    offset += counts[i];
  }
  return blocks;
}

Block merge_blocks(const std::vector<Block>& blocks, int first, int last) {
  if (first >= last) return {first < static_cast<int>(blocks.size()) ? blocks[first].offset : 0, 0};
  const Block& end = blocks[last - 1];
  return {blocks[first].offset, end.offset + end.count - blocks[first].offset};
}

uint64_t total_count(const std::vector<Block>& blocks) {
  return blocks.empty() ? 0 : blocks.back().offset + blocks.back().count;
}

ChunkLayout ChunkLayout::even(uint64_t count, int parts) {
  MYRIAD_CHECK(parts > 0, "ChunkLayout::even into {} parts", parts);
  ChunkLayout layout;
  layout.parts_ = parts;
  layout.count_ = count;
  return layout;
}

ChunkLayout ChunkLayout::listed(std::vector<Block> blocks) {
  ChunkLayout layout;
  layout.parts_ = static_cast<int>(blocks.size());
  layout.list_ = std::make_shared<const std::vector<Block>>(std::move(blocks));
  return layout;
}

Block ChunkLayout::at(int index) const {
  if (list_) return (*list_)[index];
  // even_blocks: the first count % parts blocks hold one element more.
  const uint64_t parts = static_cast<uint64_t>(parts_);
  const uint64_t i = static_cast<uint64_t>(index);
  const uint64_t base = count_ / parts;
  const uint64_t extra = count_ % parts;
  return {i * base + std::min(i, extra), base + (i < extra ? 1 : 0)};
}

uint64_t ChunkLayout::largest() const {
  if (!list_) return parts_ == 0 ? 0 : at(0).count;
  uint64_t largest = 0;
  for (const Block& block : *list_) largest = std::max(largest, block.count);
  return largest;
}

Span span_at(Region region, Block block, size_t element_bytes) {
  return {region.buffer, region.offset + block.offset * element_bytes, block.count * element_bytes};
}

Span element_span(BufferId buffer, uint64_t offset, uint64_t count, size_t element_bytes) {
  return {buffer, offset * element_bytes, count * element_bytes};
}

Span slice_span(const Span& span, int index, int slices, size_t element_bytes) {
  const uint64_t elements = span.bytes / element_bytes;
  const uint64_t begin = elements * index / slices;
  const uint64_t end = elements * (index + 1) / slices;
  return {span.buffer, span.offset + begin * element_bytes, (end - begin) * element_bytes};
}

int ceil_log2(int n) {
  int k = 0;
  while ((1LL << k) < n) ++k;
  return k;
}

int floor_pow2(int n) {
  int p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

Round& add_round(Schedule& schedule) {
  return schedule.rounds.emplace_back();
}

}  // namespace myriad

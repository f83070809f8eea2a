// Manifest: the description of one committed step (docs/checkpoint-format.md
// section manifest.json): which tensors, where their chunks lie, checksums,
// and the caller's plain values.
//
// Values are plain data; the functions are pure and thread-safe.
// parse_manifest() throws Error(Corruption) for a manifest whose checksum or
// structure is wrong, and Error(NotSupported) for a format version this
// build does not read — each naming the path.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/state.h"
#include "runtime/dtype.h"

namespace myriad::checkpoint {

struct ChunkRecord {
  std::string file;     // data file name inside the step directory
  uint64_t offset = 0;  // byte offset in the file
  uint64_t bytes = 0;
  uint64_t row = 0;  // first row (dimension 0) of the global tensor
  uint64_t rows = 0;
  uint64_t xxh3 = 0;
};

struct TensorRecord {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  Placement placement = Placement::Replicated;
  std::vector<ChunkRecord> chunks;  // sorted by row
};

struct FileRecord {
  std::string name;
  int rank = 0;
  uint64_t bytes = 0;
  uint64_t xxh3 = 0;
};

struct Manifest {
  uint32_t format_version = 0;
  uint64_t step = 0;
  int world_size = 0;
  std::string run_id;
  int64_t created_unix_ms = 0;
  nlohmann::json metadata = nlohmann::json::object();
  nlohmann::json values = nlohmann::json::object();
  std::vector<FileRecord> files;
  std::vector<TensorRecord> tensors;

  // The tensor named `name`, or nullptr.
  const TensorRecord* find(const std::string& name) const;
  // Sum of the data files' sizes.
  uint64_t total_bytes() const;
};

// One tensor's entry, as the manifest and the ranks' persist reports hold it.
nlohmann::json tensor_to_json(const TensorRecord& tensor);
TensorRecord tensor_from_json(const nlohmann::json& record_json);
// The manifest's file content, checksum included.
std::string manifest_to_text(const Manifest& manifest);
// Parses and checks a manifest read from `path` (named in errors).
Manifest parse_manifest(const std::string& text, const std::string& path);

}  // namespace myriad::checkpoint

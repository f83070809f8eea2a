#include "checkpoint/manifest.h"

#include <fmt/format.h>

#include "checkpoint/format.h"
#include "runtime/error.h"

namespace myriad::checkpoint {
namespace {

using nlohmann::json;

// Everything after the body's closing: see docs/checkpoint-format.md.
constexpr std::string_view kChecksumKey = ",\n  \"manifest_xxh3\": \"";

uint64_t hex_field(const json& j, const char* key) {
  auto value = parse_checksum_hex(j.at(key).get<std::string>());
  if (!value) throw std::invalid_argument(fmt::format("field '{}' is not 16 hex digits", key));
  return *value;
}

// A manifest written by another format version may not carry our trailer:
// say that it is another version rather than that it is corrupt.
void refuse_other_version(const std::string& text, const std::string& path) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("format_version") || !j["format_version"].is_number_unsigned()) return;
  const auto version = j["format_version"].get<uint64_t>();
  if (version != kCheckpointFormatVersion) {
    raise(ErrorCode::NotSupported,
          "{}: checkpoint format version {} is not supported (this Myriad reads version {})", path, version,
          kCheckpointFormatVersion);
  }
}

}  // namespace

const TensorRecord* Manifest::find(const std::string& name) const {
  for (const TensorRecord& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

uint64_t Manifest::total_bytes() const {
  uint64_t total = 0;
  for (const FileRecord& f : files) total += f.bytes;
  return total;
}

namespace {

json chunk_to_json(const ChunkRecord& c) {
  return json{{"file", c.file}, {"offset", c.offset}, {"bytes", c.bytes},
              {"row", c.row},   {"rows", c.rows},     {"xxh3", checksum_hex(c.xxh3)}};
}

ChunkRecord chunk_from_json(const json& j) {
  ChunkRecord c;
  c.file = j.at("file").get<std::string>();
  c.offset = j.at("offset").get<uint64_t>();
  c.bytes = j.at("bytes").get<uint64_t>();
  c.row = j.at("row").get<uint64_t>();
  c.rows = j.at("rows").get<uint64_t>();
  c.xxh3 = hex_field(j, "xxh3");
  return c;
}

}  // namespace

json tensor_to_json(const TensorRecord& t) {
  json chunks = json::array();
  for (const ChunkRecord& c : t.chunks) chunks.push_back(chunk_to_json(c));
  return {{"name", t.name},
          {"dtype", std::string(dtype_name(t.dtype))},
          {"shape", t.shape},
          {"placement", std::string(placement_name(t.placement))},
          {"chunks", std::move(chunks)}};
}

TensorRecord tensor_from_json(const json& record_json) {
  TensorRecord r;
  r.name = record_json.at("name").get<std::string>();
  r.dtype = parse_dtype(record_json.at("dtype").get<std::string>());
  r.shape = record_json.at("shape").get<std::vector<int64_t>>();
  r.placement = parse_placement(record_json.at("placement").get<std::string>());
  for (const json& c : record_json.at("chunks")) r.chunks.push_back(chunk_from_json(c));
  return r;
}

std::string manifest_to_text(const Manifest& m) {
  json files = json::array();
  for (const FileRecord& f : m.files) {
    files.push_back({{"name", f.name}, {"rank", f.rank}, {"bytes", f.bytes}, {"xxh3", checksum_hex(f.xxh3)}});
  }
  json tensors = json::array();
  for (const TensorRecord& t : m.tensors) tensors.push_back(tensor_to_json(t));
  json body = {{"format_version", m.format_version},
               {"step", m.step},
               {"world_size", m.world_size},
               {"run_id", m.run_id},
               {"created_unix_ms", m.created_unix_ms},
               {"metadata", m.metadata},
               {"values", m.values},
               {"files", std::move(files)},
               {"tensors", std::move(tensors)}};
  std::string text = body.dump(2);
  MYRIAD_CHECK(text.ends_with("\n}"));
  const uint64_t sum = checksum(text.data(), text.size());
  text.resize(text.size() - 2);
  text += fmt::format("{}{}\"\n}}\n", kChecksumKey, checksum_hex(sum));
  return text;
}

Manifest parse_manifest(const std::string& text, const std::string& path) {
  refuse_other_version(text, path);
  // The checksum before any field is used: a flipped byte may still parse.
  const size_t key = text.rfind(kChecksumKey);
  if (key == std::string::npos) {
    raise(ErrorCode::Corruption, "{}: no manifest_xxh3 checksum (truncated or not a Myriad manifest)", path);
  }
  const size_t hex_at = key + kChecksumKey.size();
  if (text.size() != hex_at + 16 + 4 || text.compare(hex_at + 16, 4, "\"\n}\n") != 0) {
    raise(ErrorCode::Corruption, "{}: offset {}: malformed manifest_xxh3 trailer", path, key);
  }
  auto expected = parse_checksum_hex(std::string_view(text).substr(hex_at, 16));
  if (!expected)
    raise(ErrorCode::Corruption, "{}: offset {}: manifest_xxh3 is not 16 hex digits", path, hex_at);
  const std::string body = text.substr(0, key) + "\n}";
  const uint64_t actual = checksum(body.data(), body.size());
  if (actual != *expected) {
    raise(ErrorCode::Corruption, "{}: manifest checksum mismatch (stored {}, computed {})", path,
          checksum_hex(*expected), checksum_hex(actual));
  }

  Manifest m;
  try {
    json j = json::parse(body);
    m.format_version = j.at("format_version").get<uint32_t>();
    if (m.format_version != kCheckpointFormatVersion) {
      raise(ErrorCode::NotSupported,
            "{}: checkpoint format version {} is not supported (this Myriad reads version {})", path,
            m.format_version, kCheckpointFormatVersion);
    }
    m.step = j.at("step").get<uint64_t>();
    m.world_size = j.at("world_size").get<int>();
    m.run_id = j.at("run_id").get<std::string>();
    m.created_unix_ms = j.at("created_unix_ms").get<int64_t>();
    m.metadata = j.at("metadata");
    m.values = j.at("values");
    for (const json& f : j.at("files")) {
      m.files.push_back({f.at("name").get<std::string>(), f.at("rank").get<int>(),
                         f.at("bytes").get<uint64_t>(), hex_field(f, "xxh3")});
    }
    for (const json& t : j.at("tensors")) m.tensors.push_back(tensor_from_json(t));
  } catch (const Error& e) {
    if (e.code() == ErrorCode::NotSupported) throw;
    raise(ErrorCode::Corruption, "{}: invalid manifest: {}", path, e.message());
  } catch (const std::exception& e) {
    raise(ErrorCode::Corruption, "{}: invalid manifest: {}", path, e.what());
  }
  return m;
}

}  // namespace myriad::checkpoint

// A walk over a component binary's sections (the Component Model's binary format): core module
// sections are read down to their memory section's count; nested components recursively;
// everything else is skipped by its size. No Wasmtime: this runs before the engine exists.
#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <capsule/wasm/component_shape.hpp>

namespace capsule::wasm {
namespace {

constexpr std::uint8_t kMagic[] = {0x00, 0x61, 0x73, 0x6d};
constexpr std::uint8_t kComponentVersion[] = {0x0d, 0x00, 0x01, 0x00};  // version 13, layer 1
constexpr std::uint8_t kModuleVersion[] = {0x01, 0x00, 0x00, 0x00};

// Component section ids.
constexpr std::uint8_t kCoreModuleSection = 1;
constexpr std::uint8_t kComponentSection = 4;
// Core module section id.
constexpr std::uint8_t kMemorySection = 5;

// Nested components deeper than this are refused rather than followed (the stack is ours).
constexpr int kMaxDepth = 16;

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  [[nodiscard]] bool at_end() const { return pos_ == bytes_.size(); }

  Result<std::uint8_t> byte() {
    if (at_end()) return truncated();
    return bytes_[pos_++];
  }

  Result<std::uint32_t> u32() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      auto b = byte();
      if (!b) return std::move(b).error();
      value |= static_cast<std::uint64_t>(*b & 0x7f) << shift;
      if ((*b & 0x80) == 0) {
        if (value > 0xffffffffULL) break;
        return static_cast<std::uint32_t>(value);
      }
    }
    return make_error(ErrorCode::kInvalidArgument,
                      "malformed component: bad LEB128 number at byte " + std::to_string(pos_));
  }

  Result<std::span<const std::uint8_t>> take(std::uint32_t size) {
    if (size > bytes_.size() - pos_) return truncated();
    auto out = bytes_.subspan(pos_, size);
    pos_ += size;
    return out;
  }

  Status expect(std::span<const std::uint8_t> want, const char* what) {
    auto got = take(static_cast<std::uint32_t>(want.size()));
    if (!got) return std::move(got).error();
    if (!std::equal(got->begin(), got->end(), want.begin())) {
      return make_error(ErrorCode::kInvalidArgument, std::string("not a ") + what);
    }
    return ok();
  }

 private:
  [[nodiscard]] Error truncated() const {
    return make_error(ErrorCode::kInvalidArgument,
                      "malformed component: truncated at byte " + std::to_string(pos_));
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

// One section: its id and its contents.
struct Section {
  std::uint8_t id;
  std::span<const std::uint8_t> body;
};

Result<Section> next_section(Reader& r) {
  auto id = r.byte();
  if (!id) return std::move(id).error();
  auto size = r.u32();
  if (!size) return std::move(size).error();
  auto body = r.take(*size);
  if (!body) return std::move(body).error();
  return Section{*id, *body};
}

Result<std::uint32_t> module_memories(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  if (Status s = r.expect(kMagic, "core wasm module"); !s) return std::move(s).error();
  if (Status s = r.expect(kModuleVersion, "core wasm module (version 1)"); !s) {
    return std::move(s).error();
  }
  std::uint32_t memories = 0;
  while (!r.at_end()) {
    auto section = next_section(r);
    if (!section) return std::move(section).error();
    if (section->id != kMemorySection) continue;
    Reader body(section->body);
    auto count = body.u32();
    if (!count) return std::move(count).error();
    memories += *count;
  }
  return memories;
}

Result<std::uint32_t> component_memories(std::span<const std::uint8_t> bytes, int depth) {
  if (depth > kMaxDepth) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "malformed component: nested more than " + std::to_string(kMaxDepth) + " components deep");
  }
  Reader r(bytes);
  if (Status s = r.expect(kMagic, "WebAssembly component"); !s) return std::move(s).error();
  if (Status s = r.expect(kComponentVersion, "WebAssembly component (a core module?)"); !s) {
    return std::move(s).error();
  }
  std::uint32_t memories = 0;
  while (!r.at_end()) {
    auto section = next_section(r);
    if (!section) return std::move(section).error();
    Result<std::uint32_t> inner = 0u;
    if (section->id == kCoreModuleSection) {
      inner = module_memories(section->body);
    } else if (section->id == kComponentSection) {
      inner = component_memories(section->body, depth + 1);
    }
    if (!inner) return std::move(inner).error();
    memories += *inner;
  }
  return memories;
}

}  // namespace

Result<ComponentShape> read_component_shape(std::span<const std::uint8_t> bytes) {
  auto memories = component_memories(bytes, 0);
  if (!memories) return std::move(memories).error();
  return ComponentShape{*memories};
}

Result<ComponentShape> read_component_shape(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read " + file.string());
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                        std::istreambuf_iterator<char>());
  auto shape = read_component_shape(bytes);
  if (!shape) return make_error(shape.error().code, file.string() + ": " + shape.error().message);
  return shape;
}

}  // namespace capsule::wasm

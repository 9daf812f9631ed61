#include "scaffold.hpp"

#include <fstream>
#include <system_error>

#include "scaffold_templates.hpp"

namespace capsule::cli {
namespace {

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// A path as a quoted CMake argument: backslash, quote and '$' (variable references) escaped.
std::string cmake_quoted(const std::filesystem::path& path) {
  std::string out = "\"";
  for (const char c : path.string()) {
    if (c == '\\' || c == '"' || c == '$') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string known_languages() {
  std::string out;
  for (const auto language : scaffold_languages()) {
    out += (out.empty() ? "" : ", ") + std::string(language);
  }
  return out;
}

Status write_file(const std::filesystem::path& file, const std::string& text) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (ec) {
    return make_error(ErrorCode::kInternal,
                      "cannot create " + file.parent_path().string() + ": " + ec.message());
  }
  std::ofstream out(file, std::ios::binary);
  out << text;
  out.close();
  if (!out) return make_error(ErrorCode::kInternal, "cannot write " + file.string());
  return ok();
}

}  // namespace

Status check_project_name(std::string_view name) {
  const auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  bool valid = !name.empty() && name.size() <= 64 && lower(name.front());
  for (const char c : name) {
    valid = valid && (lower(c) || (c >= '0' && c <= '9') || c == '-' || c == '_');
  }
  if (valid) return ok();
  return make_error(ErrorCode::kInvalidArgument,
                    "bad project name '" + std::string(name) +
                        "': a lowercase letter, then lowercase letters, digits, '-' or '_', at "
                        "most 64 (it names the directory, the .wasm and the component)");
}

Result<std::filesystem::path> write_project(
    std::string_view language, std::string_view name, const std::filesystem::path& parent,
    const std::optional<std::filesystem::path>& package_dir) {
  const auto files = scaffold_templates(language);
  if (files.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "unknown language '" + std::string(language) +
                                                       "': capsule new knows " + known_languages());
  }
  if (Status s = check_project_name(name); !s) return s.error();
  const auto dir = parent / std::string(name);
  std::error_code ec;
  // symlink_status: a dangling symlink counts as existing too; nothing is ever written through it.
  if (std::filesystem::exists(std::filesystem::symlink_status(dir, ec))) {
    return make_error(ErrorCode::kAlreadyExists,
                      dir.string() + " already exists: capsule new only creates a new directory");
  }
  if (!std::filesystem::create_directory(dir, ec)) {
    return make_error(ErrorCode::kInternal,
                      "cannot create " + dir.string() + ": " +
                          (ec ? ec.message() : std::string("it appeared meanwhile")));
  }
  const std::string hints = package_dir ? " HINTS " + cmake_quoted(*package_dir) : std::string();
  for (const auto& file : files) {
    const auto path = replace_all(std::string(file.path), "@NAME@", name);
    auto text = replace_all(std::string(file.text), "@NAME@", name);
    text = replace_all(std::move(text), "@FIND_HINTS@", hints);
    if (Status s = write_file(dir / path, text); !s) {
      std::filesystem::remove_all(dir, ec);  // ours: it did not exist before
      return s.error();
    }
  }
  return dir;
}

std::optional<std::filesystem::path> installed_package_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  // <prefix>/<bindir>/capsule: as many levels up from the binary's directory as bindir has.
  const std::filesystem::path bindir(CAPSULE_INSTALL_BINDIR);
  auto prefix = exe.parent_path();
  for (auto it = bindir.begin(); it != bindir.end(); ++it) prefix = prefix.parent_path();
  auto package = prefix / CAPSULE_INSTALL_CMAKEDIR;
  if (!std::filesystem::exists(package / "capsuleConfig.cmake", ec)) return std::nullopt;
  return package;
}

}  // namespace capsule::cli

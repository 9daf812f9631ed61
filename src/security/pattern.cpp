#include <algorithm>
#include <cstddef>

#include <capsule/security/pattern.hpp>

namespace capsule::security {
namespace {

std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, slash - start));
    start = slash + 1;
  }
}

bool is_dot_segment(std::string_view s) {
  return s == "." || s == "..";
}

// Classic wildcard match with single-star backtracking: linear in practice, never exponential.
bool glob_match(std::string_view glob, std::string_view text) {
  std::size_t g = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < text.size()) {
    if (g < glob.size() && (glob[g] == '?' || glob[g] == text[t])) {
      ++g;
      ++t;
    } else if (g < glob.size() && glob[g] == '*') {
      star = g++;
      resume = t;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

}  // namespace

bool is_matchable_subject(std::string_view subject) noexcept {
  if (subject.empty() || subject.size() > 4 * Pattern::kMaxLength) return false;
  if (subject.find('\0') != std::string_view::npos) return false;
  // Walks the segments in place: this runs on every capability check.
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = subject.find('/', start);
    const std::string_view seg = subject.substr(start, slash - start);
    if (seg.empty() || is_dot_segment(seg)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

Result<Pattern> Pattern::compile(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "invalid pattern '" + std::string(text.substr(0, 64)) + "': " + std::string(why));
  };
  if (text.empty()) return bad("empty");
  if (text.size() > kMaxLength) return bad("longer than 1024 bytes");
  if (text.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  Pattern p;
  p.text_ = std::string(text);
  for (std::string_view seg : split(text)) {
    if (seg.empty()) return bad("empty segment (leading, trailing or double '/')");
    if (is_dot_segment(seg)) return bad("'.' and '..' segments are not allowed");
    if (seg == "**") {
      // Consecutive `**` mean the same as one; keeping one keeps matching cheap.
      if (!p.segments_.empty() && p.segments_.back().any_depth) continue;
      p.segments_.push_back(Segment{"", true});
      p.has_any_depth_ = true;
      continue;
    }
    if (seg.find("**") != std::string_view::npos) {
      return bad("'**' must be a whole segment");
    }
    p.segments_.push_back(Segment{std::string(seg), false});
  }
  p.only_trailing_any_depth_ = p.has_any_depth_ && p.segments_.back().any_depth &&
                               std::none_of(p.segments_.begin(), p.segments_.end() - 1,
                                            [](const Segment& s) { return s.any_depth; });
  return p;
}

bool Pattern::matches(std::string_view subject) const noexcept {
  if (!is_matchable_subject(subject)) return false;
  if (!has_any_depth_ || only_trailing_any_depth_) {
    // No `**`, or only a last one ("shop/**", "**"): segment i of the pattern matches segment i
    // of the subject, and a trailing `**` takes whatever is left. No allocation.
    const std::size_t fixed = segments_.size() - (only_trailing_any_depth_ ? 1 : 0);
    std::size_t start = 0;
    for (std::size_t i = 0; i < fixed; ++i) {
      if (start > subject.size()) return false;  // subject has fewer segments
      const std::size_t slash = subject.find('/', start);
      if (!glob_match(segments_[i].glob, subject.substr(start, slash - start))) return false;
      start = slash == std::string_view::npos ? subject.size() + 1 : slash + 1;
    }
    return only_trailing_any_depth_ || start > subject.size();  // `**` or nothing left over
  }
  const std::vector<std::string_view> parts = split(subject);
  const std::size_t np = segments_.size();
  const std::size_t ns = parts.size();
  // can[j] after processing pattern segment i (backwards): segments i.. match parts j..
  std::vector<bool> next(ns + 1, false);
  std::vector<bool> cur(ns + 1, false);
  next[ns] = true;
  for (std::size_t i = np; i-- > 0;) {
    const Segment& seg = segments_[i];
    cur[ns] = seg.any_depth && next[ns];
    for (std::size_t j = ns; j-- > 0;) {
      if (seg.any_depth) {
        cur[j] = next[j] || cur[j + 1];  // match none, or eat parts[j]
      } else {
        cur[j] = next[j + 1] && glob_match(seg.glob, parts[j]);
      }
    }
    next.swap(cur);
  }
  return next[0];
}

}  // namespace capsule::security

#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <capsule/core/result.hpp>

namespace capsule::security {

// A glob over '/'-separated segments, used for every capability target (component ids, topics,
// storage keys, paths). `*` matches any run of characters inside one segment, `?` exactly one,
// and a segment that is exactly `**` matches zero or more whole segments. Matching is
// case-sensitive and byte-wise: capability targets are identifiers, not file names on a
// case-folding file system.
//
// Subjects are judged, never normalised: a subject with an empty, "." or ".." segment (or a NUL
// byte) matches nothing, so "public/../secret" cannot slip through "public/**".
class Pattern {
 public:
  static constexpr std::size_t kMaxLength = 1024;

  // Rejects: empty text, empty segments ("a//b", "/a", "a/"), "." or ".." segments, `**` mixed
  // with other characters in one segment ("a**"), NUL bytes, text longer than kMaxLength.
  static Result<Pattern> compile(std::string_view text);

  [[nodiscard]] bool matches(std::string_view subject) const noexcept;
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

 private:
  struct Segment {
    std::string glob;
    bool any_depth = false;  // the segment is `**`
  };
  Pattern() = default;

  std::string text_;
  std::vector<Segment> segments_;
  bool has_any_depth_ = false;            // some segment is `**`
  bool only_trailing_any_depth_ = false;  // ...and only the last one: positional fast path
};

// True if `subject` is something a pattern could match: non-empty, no NUL, no empty / "." / ".."
// segments. Exposed so callers can reject a bad argument before asking the policy.
[[nodiscard]] bool is_matchable_subject(std::string_view subject) noexcept;

}  // namespace capsule::security

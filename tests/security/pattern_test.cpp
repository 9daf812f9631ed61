#include <gtest/gtest.h>

#include <capsule/security/pattern.hpp>

namespace capsule::security {
namespace {

bool match(std::string_view pattern, std::string_view subject) {
  auto p = Pattern::compile(pattern);
  EXPECT_TRUE(p) << pattern;
  return p && p->matches(subject);
}

TEST(Pattern, LiteralMatchesOnlyItself) {
  EXPECT_TRUE(match("shop/cart/0", "shop/cart/0"));
  EXPECT_FALSE(match("shop/cart/0", "shop/cart/1"));
  EXPECT_FALSE(match("shop/cart/0", "shop/cart/0/x"));
  EXPECT_FALSE(match("shop/cart/0", "shop/cart"));
}

TEST(Pattern, StarStaysInsideOneSegment) {
  EXPECT_TRUE(match("shop/*/0", "shop/cart/0"));
  EXPECT_FALSE(match("shop/*", "shop/cart/0"));
  EXPECT_TRUE(match("shop/ca*", "shop/cart"));
  EXPECT_TRUE(match("shop/*t", "shop/cart"));
  EXPECT_TRUE(match("shop/*", "shop/x"));
  EXPECT_FALSE(match("*", "a/b"));
  EXPECT_TRUE(match("a*b*c", "aXbYc"));
  EXPECT_FALSE(match("a*b*c", "aXbY"));
}

TEST(Pattern, DoubleStarSpansZeroOrMoreSegments) {
  EXPECT_TRUE(match("shop/**", "shop/cart/0"));
  EXPECT_TRUE(match("shop/**", "shop"));
  EXPECT_TRUE(match("**", "anything/at/all"));
  EXPECT_TRUE(match("a/**/z", "a/z"));
  EXPECT_TRUE(match("a/**/z", "a/b/c/z"));
  EXPECT_FALSE(match("a/**/z", "a/b/c/y"));
  EXPECT_TRUE(match("**/0", "shop/cart/0"));
  EXPECT_TRUE(match("a/**/**/b", "a/x/b"));
}

TEST(Pattern, QuestionMarkIsOneCharacter) {
  EXPECT_TRUE(match("k?", "k1"));
  EXPECT_FALSE(match("k?", "k"));
  EXPECT_FALSE(match("k?", "k12"));
  EXPECT_FALSE(match("a?b", "a/b"));
}

TEST(Pattern, CaseSensitive) {
  EXPECT_FALSE(match("Shop/**", "shop/cart/0"));
  EXPECT_FALSE(match("shop/CART", "shop/cart"));
}

TEST(Pattern, PathTraversalNeverMatches) {
  EXPECT_FALSE(match("public/**", "public/../secret"));
  EXPECT_FALSE(match("public/**", "public/./x"));
  EXPECT_FALSE(match("**", ".."));
  EXPECT_FALSE(match("**", "a/../../b"));
  EXPECT_FALSE(match("public/*", "public/.."));
  EXPECT_FALSE(match("**", "/abs"));
  EXPECT_FALSE(match("**", "trailing/"));
  EXPECT_FALSE(match("**", "double//slash"));
  // Dots inside a segment are ordinary characters.
  EXPECT_TRUE(match("public/*", "public/..x"));
  EXPECT_TRUE(match("**", "a/.hidden"));
}

TEST(Pattern, EmptyAndNulSubjectsNeverMatch) {
  EXPECT_FALSE(match("**", ""));
  EXPECT_FALSE(match("*", ""));
  EXPECT_FALSE(match("**", std::string_view("a\0b", 3)));
}

TEST(Pattern, RejectsMalformedPatterns) {
  for (std::string_view bad :
       {"", "/a", "a/", "a//b", "a/../b", ".", "a/./b", "a**", "**b", "a/b**/c"}) {
    EXPECT_FALSE(Pattern::compile(bad)) << "'" << bad << "'";
  }
  EXPECT_FALSE(Pattern::compile(std::string(Pattern::kMaxLength + 1, 'a')));
  EXPECT_FALSE(Pattern::compile(std::string_view("a\0", 2)));
}

TEST(Pattern, ManyStarsStayCheap) {
  // Backtracking must not explode: this would take ages with naive recursion.
  std::string stars;
  for (int i = 0; i < 40; ++i) stars += "*x";
  const std::string pattern = "**/" + stars + "a/**/" + stars + "b";
  const std::string subject = std::string(200, 'x') + "/" + std::string(200, 'x');
  EXPECT_FALSE(match(pattern, subject));
}

}  // namespace
}  // namespace capsule::security

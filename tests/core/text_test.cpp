#include <gtest/gtest.h>

#include <capsule/core/text.hpp>

namespace capsule {
namespace {

TEST(Text, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated sequence
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong, three bytes
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // a UTF-16 surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
}

TEST(Text, CutsOnlyOnSequenceBoundaries) {
  const std::string euro = "a\xe2\x82\xac";  // 'a' + 3-byte euro sign
  EXPECT_EQ(cut_utf8(euro, 10), euro);
  EXPECT_EQ(cut_utf8(euro, 4), euro);
  EXPECT_EQ(cut_utf8(euro, 3), "a");
  EXPECT_EQ(cut_utf8(euro, 2), "a");
  EXPECT_EQ(cut_utf8(euro, 1), "a");
  EXPECT_EQ(cut_utf8(euro, 0), "");
  EXPECT_EQ(cut_utf8_noted(euro, 4), euro);
  EXPECT_EQ(cut_utf8_noted(euro, 2), "a ... (3 bytes cut)");
}

TEST(Text, ControlsAreWrittenOut) {
  EXPECT_EQ(escape_controls("one\ntwo\r\tx\x01\x7f"), "one\\ntwo\\r\\tx\\x01\\x7f");
  EXPECT_EQ(escape_controls("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 is kept as it is
}

}  // namespace
}  // namespace capsule

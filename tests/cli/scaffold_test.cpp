// `capsule new` (src/cli/scaffold.cpp) as units: what it writes for each language and what it
// refuses. End to end (the project built with the installed module and run): install.new_*.
#include "scaffold.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>

#include "scaffold_templates.hpp"

namespace capsule::cli {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ScaffoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("capsule-scaffold-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
           "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

TEST_F(ScaffoldTest, EveryLanguageGetsAProjectWithItsNameEverywhere) {
  ASSERT_EQ(scaffold_languages().size(), 4U);
  for (const auto language : scaffold_languages()) {
    const std::string name = "svc-" + std::string(language);
    auto project = write_project(language, name, dir, fs::path("/opt/cap sule"));
    ASSERT_TRUE(project) << project.error().describe();
    EXPECT_EQ(*project, dir / name);
    std::size_t files = 0;
    for (const auto& entry : fs::recursive_directory_iterator(*project)) {
      if (!entry.is_regular_file()) continue;
      ++files;
      const auto text = read(entry.path());
      EXPECT_EQ(text.find('@'), std::string::npos) << entry.path() << " kept a placeholder";
    }
    EXPECT_EQ(files, scaffold_templates(language).size());
    const auto cmake = read(*project / "CMakeLists.txt");
    EXPECT_NE(cmake.find("COMPONENTS guest HINTS \"/opt/cap sule\")"), std::string::npos) << cmake;
    EXPECT_NE(cmake.find("project(" + name + " NONE)"), std::string::npos) << cmake;
    const auto manifest = read(*project / "capsule.toml");
    EXPECT_NE(manifest.find("name = \"app/" + name + "\""), std::string::npos) << manifest;
    EXPECT_NE(manifest.find("path = \"" + name + ".wasm\""), std::string::npos) << manifest;
  }
  EXPECT_TRUE(fs::exists(dir / "svc-c" / "src" / "svc-c.c"));
  EXPECT_TRUE(fs::exists(dir / "svc-python" / "src" / "app.py"));
}

TEST_F(ScaffoldTest, WithoutAnInstalledPrefixTheProjectNamesNone) {
  auto project = write_project("c", "plain", dir, std::nullopt);
  ASSERT_TRUE(project) << project.error().describe();
  const auto cmake = read(*project / "CMakeLists.txt");
  EXPECT_NE(cmake.find("COMPONENTS guest)"), std::string::npos) << cmake;
  EXPECT_EQ(cmake.find("HINTS"), std::string::npos) << cmake;
}

TEST_F(ScaffoldTest, APrefixWithQuotesStaysOneCMakeArgument) {
  auto project = write_project("c", "quoted", dir, fs::path(R"(/odd"dir\$x)"));
  ASSERT_TRUE(project) << project.error().describe();
  EXPECT_NE(read(*project / "CMakeLists.txt").find(R"(HINTS "/odd\"dir\\\$x")"), std::string::npos);
}

TEST_F(ScaffoldTest, RefusesAnExistingPathAndLeavesItAlone) {
  fs::create_directories(dir / "taken");
  std::ofstream(dir / "taken" / "mine.txt") << "keep";
  auto project = write_project("c", "taken", dir, std::nullopt);
  ASSERT_FALSE(project);
  EXPECT_EQ(project.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(project.error().message.find("already exists"), std::string::npos);
  EXPECT_EQ(read(dir / "taken" / "mine.txt"), "keep");
  EXPECT_FALSE(fs::exists(dir / "taken" / "CMakeLists.txt"));
  std::ofstream(dir / "file") << "x";  // a plain file is a path that exists too
  EXPECT_FALSE(write_project("c", "file", dir, std::nullopt));
}

TEST_F(ScaffoldTest, RefusesUnknownLanguagesNamingTheKnownOnes) {
  auto project = write_project("rust", "demo", dir, std::nullopt);
  ASSERT_FALSE(project);
  EXPECT_EQ(project.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(project.error().message.find("unknown language 'rust'"), std::string::npos);
  EXPECT_NE(project.error().message.find("c, cpp, python, js"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "demo"));
}

TEST_F(ScaffoldTest, RefusesBadNamesWritingNothing) {
  for (const std::string& bad :
       std::vector<std::string>{"", "Demo", "9lives", "-x", "my app", "a/b", "..", "caf\xc3\xa9",
                                std::string(65, 'x')}) {
    auto project = write_project("c", bad, dir, std::nullopt);
    ASSERT_FALSE(project) << bad;
    EXPECT_NE(project.error().message.find("bad project name"), std::string::npos) << bad;
  }
  EXPECT_TRUE(fs::is_empty(dir));
  EXPECT_TRUE(check_project_name(std::string(64, 'x')));
  EXPECT_TRUE(check_project_name("a-b_9"));
}

}  // namespace
}  // namespace capsule::cli

// Every table of a manifest refuses a field it does not know, naming the fields it knows, and
// each field it names is one it accepts: the list in the message and the check are one array
// (src/manifest/field_names.hpp), so they cannot drift apart.
#include <filesystem>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "manifest/manifest.hpp"
#include "parse_text.hpp"

namespace capsule::manifest {
namespace {

using testing::error_of;
using testing::parse_text;

// The names an error lists after "(known: ", up to the closing parenthesis.
std::vector<std::string> listed(const std::string& error) {
  const auto from = error.find("(known: ");
  if (from == std::string::npos) return {};
  std::stringstream list(error.substr(from + 8, error.rfind(')') - from - 8));
  std::vector<std::string> out;
  for (std::string name; std::getline(list, name, ',');) {
    out.push_back(name.substr(name.find_first_not_of(' ')));
  }
  return out;
}

struct Table {
  std::string name;                                     // how the error names a field of it
  std::function<std::string(const std::string&)> with;  // a manifest with `line` in that table
};

const std::string kComponent = "[[component]]\nname = \"app/a\"\npath = \"a.wasm\"\n";
const std::string kRoute = "[http]\nlisten = \"127.0.0.1:0\"\n[[http.route]]\npath = \"/a\"\n";

std::vector<Table> tables() {
  const auto in_component = [](const std::string& sub, const std::string& after = "") {
    return [sub, after](const std::string& line) { return kComponent + sub + line + after + "\n"; };
  };
  return {
      {"host.", [](const std::string& l) { return "[host]\n" + l + "\n" + kComponent; }},
      {"host.quotas.",
       [](const std::string& l) { return "[host.quotas]\n" + l + "\n" + kComponent; }},
      {"host.cluster_tls.",
       [](const std::string& l) { return "[host.cluster_tls]\n" + l + "\n" + kComponent; }},
      {"component[0] ", in_component("")},
      {"component 'app/a' limits.", in_component("[component.limits]\n")},
      {"component 'app/a' supervision.", in_component("[component.supervision]\n")},
      {"component 'app/a' mailbox.", in_component("[component.mailbox]\n")},
      {"component 'app/a' placement.", in_component("[component.placement]\n")},
      {"group 'g' supervision.",
       in_component("[[group]]\nname = \"g\"\nmembers = [\"app/a\"]\n[group.supervision]\n")},
      {"group[0] ", [](const std::string& l) { return kComponent + "[[group]]\n" + l + "\n"; }},
      {"http.",
       [](const std::string& l) { return kComponent + "[http]\n" + l + "\n[[http.route]]\n"; }},
      {"http.route[0].", [](const std::string& l) { return kComponent + kRoute + l + "\n"; }},
      {"grants.\"app/a\".storage_quota.",
       [](const std::string& l) {
         return kComponent + "[grants.\"app/a\"]\nstorage_quota = { " + l + " }\n";
       }},
      {"component 'app/a' capabilities.messaging.send.",
       in_component("[component.capabilities]\n\"messaging.send\" = [{ target = \"a/*\", ", " }]")},
  };
}

TEST(ManifestFields, EveryTableNamesWhatItKnowsAndAcceptsWhatItNames) {
  for (const auto& table : tables()) {
    const std::string error = error_of(table.with("colour = 1"));
    EXPECT_NE(error.find(table.name + "colour: unknown field (known: "), std::string::npos)
        << error;
    const auto names = listed(error);
    EXPECT_GE(names.size(), 2U) << error;
    for (const auto& name : names) {
      // A wrong value or a missing companion may still be an error, but not an unknown field.
      const std::string accepted = error_of(table.with(name + " = 1"));
      EXPECT_EQ(accepted.find("unknown field"), std::string::npos) << name << ": " << accepted;
    }
  }
}

TEST(ManifestFields, UnknownSectionsNameTheSectionsAsTheyAreWritten) {
  const std::string error = error_of(kComponent + "[hosts]\nname = \"x\"\n");
  EXPECT_NE(error.find("hosts: unknown section (known: [host], [[component]], [[group]], "
                       "[grants], [http])"),
            std::string::npos)
      << error;
  for (const std::string section : {"[host]\n", "[grants]\n", "[[group]]\n", "[http]\n"}) {
    const std::string other = error_of(kComponent + section);
    EXPECT_EQ(other.find("unknown section"), std::string::npos) << section << other;
  }
}

TEST(ManifestFields, ClusterTlsFilesAreReadAtParseAndNamedWithTheirLine) {
  // Relative to the manifest: a missing file is the key, its full path and the line.
  const std::string missing =
      error_of("[host]\nname = \"p1\"\n[host.cluster_tls]\nca = \"tls/ca.pem\"\n" + kComponent);
  EXPECT_NE(missing.find("app.toml:4: host.cluster_tls.ca: "), std::string::npos) << missing;
  EXPECT_NE(missing.find("capsule-manifest-test-"), std::string::npos) << missing;
  EXPECT_NE(missing.find("/tls/ca.pem: cannot read (No such file or directory)"), std::string::npos)
      << missing;
  // Readable files are taken (absolute paths stay as written); cert without key is refused.
  const auto dir = std::filesystem::temp_directory_path() /
                   ("capsule-tls-manifest-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const char* f : {"ca.pem", "p1.pem", "p1.key"}) std::ofstream(dir / f) << "x";
  const std::string table = "[host.cluster_tls]\nca = \"" + (dir / "ca.pem").string() +
                            "\"\ncert = \"" + (dir / "p1.pem").string() + "\"\n";
  auto m = parse_text(table + "key = \"" + (dir / "p1.key").string() + "\"\n" + kComponent);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->host.cluster_tls.ca, dir / "ca.pem");
  EXPECT_EQ(m->host.cluster_tls.key, dir / "p1.key");
  const std::string lonely = error_of(table + kComponent);
  EXPECT_NE(lonely.find("host.cluster_tls: cert and key come together"), std::string::npos)
      << lonely;
  const std::string no_ca =
      error_of("[host.cluster_tls]\ncert = \"" + (dir / "p1.pem").string() + "\"\nkey = \"" +
               (dir / "p1.key").string() + "\"\n" + kComponent);
  EXPECT_NE(no_ca.find("host.cluster_tls.ca: required"), std::string::npos) << no_ca;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace capsule::manifest

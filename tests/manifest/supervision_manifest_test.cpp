// [component.supervision] and [group.supervision] as units: the escalation fields (what the
// runtime does when the supervisor gives up; component.Escalation.* runs it), their checks, and
// unknown fields named with their line.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

#include "manifest/manifest.hpp"
#include "parse_text.hpp"

namespace capsule::manifest {
namespace {

using Action = component::GroupEscalation::Action;

using testing::error_of;
const auto parse = testing::parse_text;

TEST(SupervisionManifest, EscalationDefaultsToStayDown) {
  auto m = parse(R"(
[[component]]
name = "app/a"
path = "a.wasm"
)");
  ASSERT_TRUE(m) << m.error().describe();
  const auto spec = to_spec(m->components.at(0), nullptr);
  EXPECT_EQ(spec.escalation.action, Action::kStayDown);
}

TEST(SupervisionManifest, AComponentsRestartGroupEscalationReachesItsSpec) {
  auto m = parse(R"(
[[component]]
name = "app/a"
path = "a.wasm"
[component.supervision]
max_restarts = 2
escalation = "restart-group"
escalation_max_restarts = 5
escalation_window_ms = 30000
)");
  ASSERT_TRUE(m) << m.error().describe();
  const auto spec = to_spec(m->components.at(0), nullptr);
  EXPECT_EQ(spec.escalation.action, Action::kRestartGroup);
  EXPECT_EQ(spec.escalation.max_restarts, 5U);
  EXPECT_EQ(spec.escalation.window, std::chrono::milliseconds(30000));
  EXPECT_EQ(spec.supervision.max_restarts, 2U);
}

TEST(SupervisionManifest, AGroupsEscalationIsTheGroupsOwn) {
  auto m = parse(R"(
[[component]]
name = "app/a"
path = "a.wasm"
[[component]]
name = "app/b"
path = "b.wasm"
[[group]]
name = "pair"
members = ["app/a", "app/b"]
[group.supervision]
strategy = "one-for-all"
escalation = "restart-group"
)");
  ASSERT_TRUE(m) << m.error().describe();
  ASSERT_EQ(m->groups.size(), 1U);
  EXPECT_EQ(m->groups[0].escalation.action, Action::kRestartGroup);
  EXPECT_EQ(m->groups[0].escalation.max_restarts, component::GroupEscalation{}.max_restarts);
}

TEST(SupervisionManifest, BadEscalationsAndUnknownFieldsAreNamedWithTheirLine) {
  const std::string head =
      "[[component]]\nname = \"app/a\"\npath = \"a.wasm\"\n"
      "[component.supervision]\n";
  std::string e = error_of(head + "escalation = \"restart\"\n");
  EXPECT_NE(e.find("supervision.escalation: expected stay-down or restart-group"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.rfind("app.toml:5: ", 0), 0U) << e;
  e = error_of(head + "escalation_max_restarts = 3\n");
  EXPECT_NE(e.find("escalation_max_restarts: only with escalation = \"restart-group\""),
            std::string::npos)
      << e;
  e = error_of(head + "escalation = \"restart-group\"\nescalation_max_restarts = 0\n");
  EXPECT_NE(e.find("must be 1 to 1000000"), std::string::npos) << e;
  e = error_of(head + "escalation = \"restart-group\"\nescalation_window_ms = -1\n");
  EXPECT_NE(e.find("escalation_window_ms: must be positive"), std::string::npos) << e;
  e = error_of(head + "max_restart = 3\n");
  EXPECT_NE(e.find("supervision.max_restart: unknown field (known: strategy"), std::string::npos)
      << e;
  EXPECT_EQ(e.rfind("app.toml:5: ", 0), 0U) << e;
}

}  // namespace
}  // namespace capsule::manifest

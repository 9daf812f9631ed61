// The commands that talk to a running host through its admin API (docs/cli.md, "Admin API"): each
// sends one request and prints the answer for people (or, with --json, as it came).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"
#include "daemon/http.hpp"

namespace capsule::cli {

using nlohmann::json;

namespace {

// Sends one admin request and prints the outcome; returns the process exit code.
int admin_request(const AdminClientOptions& admin, const std::string& method,
                  const std::string& path, const json& body,
                  const std::function<void(const json&)>& print,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  auto endpoint = resolve_admin(admin);
  if (!endpoint) return fail(endpoint.error().message);
  auto r = daemon::http_call(*endpoint, method, path, body.is_null() ? "" : body.dump(), timeout);
  if (!r) return fail(r.error().message);
  json reply = json::parse(r->body, nullptr, false);
  if (reply.is_discarded()) {
    return fail("unexpected answer from " + endpoint->address + ": " + r->body);
  }
  if (!reply.value("ok", false)) {
    const auto& e = reply["error"];
    return fail(e.value("code", "error") + ": " + e.value("message", ""));
  }
  print(reply);
  return 0;
}

}  // namespace

int cmd_hosts(const AdminClientOptions& admin, bool raw_json) {
  return admin_request(admin, "GET", "/v1/hosts", json(), [&](const json& r) {
    if (raw_json) {
      std::printf("%s\n", r.dump(2).c_str());
      return;
    }
    const auto cluster = r.value("cluster", "");
    std::printf("cluster: %s\n", cluster.empty() ? "(not in a cluster)" : cluster.c_str());
    std::printf("%-20s %-24s %10s %12s  %s\n", "HOST", "GROUPS", "INSTANCES", "LAST SEEN",
                "ADOPTED");
    for (const auto& h : r["hosts"]) {
      std::string groups, adopted;
      for (const auto& g : h["groups"])
        groups += (groups.empty() ? "" : ",") + g.get<std::string>();
      if (h.contains("adopted")) {
        for (const auto& a : h["adopted"])
          adopted += (adopted.empty() ? "" : ",") + a.get<std::string>();
      }
      const std::string seen = h.value("self", false)
                                   ? "(this host)"
                                   : std::to_string(h.value("last_seen_ms", 0)) + " ms ago";
      std::printf("%-20s %-24s %10zu %12s  %s\n", h.value("name", "").c_str(),
                  groups.empty() ? "-" : groups.c_str(), h.value("components", std::size_t{0}),
                  seen.c_str(), adopted.c_str());
    }
  });
}

int cmd_ps(const AdminClientOptions& admin, bool raw_json) {
  return admin_request(admin, "GET", "/v1/ps", json(), [&](const json& r) {
    if (raw_json) {
      std::printf("%s\n", r.dump(2).c_str());
      return;
    }
    std::printf("%-28s %-16s %-16s %-8s %8s %8s %10s %14s\n", "INSTANCE", "COMPONENT", "GROUP",
                "STATE", "RESTARTS", "MAILBOX", "MESSAGES", "FUEL");
    for (const auto& i : r["instances"]) {
      std::printf(
          "%-28s %-16s %-16s %-8s %8llu %8llu %10llu %14llu\n", i["id"].get<std::string>().c_str(),
          i["component"].get<std::string>().c_str(), i.value("group", "").c_str(),
          i["state"].get<std::string>().c_str(), i["restarts"].get<unsigned long long>(),
          i["mailbox_depth"].get<unsigned long long>(), i["processed"].get<unsigned long long>(),
          i["fuel_consumed"].get<unsigned long long>());
    }
    if (r.contains("on_demand") && !r["on_demand"].empty()) {
      std::printf("\n%-28s %8s %8s %12s %14s %10s %8s\n", "ON-DEMAND COMPONENT", "ACTIVE",
                  "WAITING", "ACTIVATIONS", "DEACTIVATIONS", "EVICTIONS", "FAILED");
      for (const auto& c : r["on_demand"]) {
        std::printf(
            "%-28s %8llu %8llu %12llu %14llu %10llu %8llu\n",
            c["component"].get<std::string>().c_str(), c["active"].get<unsigned long long>(),
            c["waiting"].get<unsigned long long>(), c["activations"].get<unsigned long long>(),
            c["deactivations"].get<unsigned long long>(), c["evictions"].get<unsigned long long>(),
            c["failed_activations"].get<unsigned long long>());
      }
    }
    if (r.contains("routes") && !r["routes"].empty()) {
      std::printf("\n%-16s %-20s %-24s %-8s %6s %6s %6s %6s %12s %8s %10s\n", "HTTP ROUTE", "NAME",
                  "WASM", "STATE", "SIZE", "IDLE", "BUSY", "QUEUED", "INSTANTIATED", "FAILED",
                  "REQUESTS");
      std::vector<json> gave_up;
      for (const auto& p : r["routes"]) {
        unsigned long long requests = 0;
        for (const auto& [cls, n] : p["requests"].items()) requests += n.get<unsigned long long>();
        // A route that gave up: FAILED in its row, and why under the table.
        const std::string state = p.value("state", std::string("running"));
        if (state != "running") gave_up.push_back(p);
        std::printf("%-16s %-20s %-24s %-8s %6u %6llu %6u %6u %12llu %8llu %10llu\n",
                    p["route"].get<std::string>().c_str(), p["name"].get<std::string>().c_str(),
                    p["wasm"].get<std::string>().c_str(), state.c_str(), p["size"].get<unsigned>(),
                    p["idle"].get<unsigned long long>(), p["busy"].get<unsigned>(),
                    p["queued"].get<unsigned>(), p["instantiated"].get<unsigned long long>(),
                    p["failed"].get<unsigned long long>(), requests);
      }
      for (const auto& p : gave_up) {
        std::printf("route %s %s\n", p["route"].get<std::string>().c_str(),
                    p.value("gave_up", std::string()).c_str());
      }
    }
  });
}

int cmd_metrics(const AdminClientOptions& admin) {
  auto endpoint = resolve_admin(admin);
  if (!endpoint) return fail(endpoint.error().message);
  auto r = daemon::http_call(*endpoint, "GET", "/metrics", "", std::chrono::seconds(10));
  if (!r) return fail(r.error().message);
  if (r->status != 200) {
    const json e = json::parse(r->body, nullptr, false);
    return fail(e.is_object() && e.contains("error") ? e["error"].dump() : r->body);
  }
  std::fputs(r->body.c_str(), stdout);
  return r->status == 200 ? 0 : 1;
}

int cmd_dashboard(const AdminClientOptions& admin) {
  // The code is good once, for two minutes: the link is for opening now, not for keeping.
  return admin_request(admin, "POST", "/v1/dashboard-code", json::object(), [](const json& r) {
    std::printf("%s\n", r.value("url", "").c_str());
    std::fprintf(stderr, "open it within %lld s; it works once (docs/cli.md, \"Dashboard\")\n",
                 static_cast<long long>(r.value("expires_in_s", 0)));
  });
}

int cmd_send(const AdminClientOptions& admin, const MessageOptions& m, bool call) {
  json body{{"target", m.target},
            {"payload", m.payload},
            {"codec", m.codec},
            {"timeout_ms", m.timeout_ms}};
  return admin_request(
      admin, "POST", !call ? "/v1/send" : "/v1/call", body,
      [&](const json& r) {
        if (call) std::printf("%s\n", r.value("payload", "").c_str());
      },
      std::chrono::milliseconds(m.timeout_ms + 5000));
}

int cmd_stop(const AdminClientOptions& admin, const std::string& component, bool restart) {
  // A route is named by its path ("/boom"); "ns/name" is a component, or a wasi:http/proxy route
  // by its instances' name (the host tells which).
  const bool route = restart && component.starts_with('/');
  return admin_request(
      admin, "POST", !restart ? "/v1/stop" : "/v1/restart",
      json{{route ? "route" : "component", component}}, [&](const json& r) {
        if (!r.contains("route")) {
          std::printf("%s %s\n", !restart ? "stopped" : "restarted", component.c_str());
          return;
        }
        std::string line = "restarted http route " + r.value("route", std::string()) + " (" +
                           r.value("name", std::string()) + ")";
        // The cause's first line: a trap's backtrace follows it (the host's log and
        // `capsule ps --json` keep the whole text).
        std::string gave_up = r.value("gave_up", std::string());
        gave_up = gave_up.substr(0, gave_up.find('\n'));
        if (!gave_up.empty()) line += "; it was down (" + gave_up + ")";
        std::printf("%s\n", line.c_str());
      });
}

int cmd_upgrade(const AdminClientOptions& admin, const std::string& component,
                const std::string& new_wasm) {
  const auto abs = std::filesystem::absolute(new_wasm).string();
  return admin_request(admin, "POST", "/v1/upgrade", json{{"component", component}, {"path", abs}},
                       [&](const json& r) {
                         std::printf("upgraded %s (%zu instance(s)) to %s\n", component.c_str(),
                                     r.value("instances", std::size_t{0}), new_wasm.c_str());
                       });
}

}  // namespace capsule::cli

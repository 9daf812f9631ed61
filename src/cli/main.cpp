// capsule: run WebAssembly components as supervised actors, and talk to a running host.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <capsule/wasm/engine.hpp>
#include <capsule/wasm/wit_contract.hpp>

#include "admin_client.hpp"
#include "daemon/credentials.hpp"
#include "daemon/host_daemon.hpp"
#include "daemon/http.hpp"
#include "daemon/reporter.hpp"
#include "manifest/manifest.hpp"
#include "scaffold.hpp"

namespace {

using namespace capsule;
using namespace capsule::cli;
using nlohmann::json;

int fail(const std::string& message) {
  std::fprintf(stderr, "capsule: %s\n", message.c_str());
  return 1;
}

// Sends one admin request and prints the outcome; returns the process exit code.
int admin_request(const AdminClientOptions& admin, const std::string& method,
                  const std::string& path, const json& body,
                  const std::function<void(const json&)>& print,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  auto endpoint = resolve_admin(admin);
  if (!endpoint) return fail(endpoint.error().message);
  auto r = http_call(*endpoint, method, path, body.is_null() ? "" : body.dump(), timeout);
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

int cmd_run(const std::string& manifest_path, const std::string& admin_override,
            const std::string& log_format, const std::string& cluster_url,
            const std::string& credentials_path, const HostOverrides& overrides) {
  auto manifest = load_manifest(manifest_path, overrides);
  if (!manifest) return fail(manifest.error().message);
  std::optional<cluster::HostCredentials> credentials;
  if (!credentials_path.empty()) {
    if (cluster_url.empty()) return fail("--credentials needs --cluster nats://...");
    auto loaded = load_credentials(credentials_path);
    if (!loaded) return fail(loaded.error().message);
    // The server would let this host publish only under the name in the file: a mismatch would
    // silently lose every message, so it is refused here.
    if (loaded->host != manifest->host.name || loaded->cluster != manifest->host.cluster) {
      return fail(credentials_path + ": credentials of host '" + loaded->host + "' in cluster '" +
                  loaded->cluster + "', but this host is '" + manifest->host.name +
                  "' in cluster '" + manifest->host.cluster + "' (see --host, --cluster-name)");
    }
    credentials = std::move(*loaded);
  }
  Reporter reporter(log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  // Read before the manifest moves: argument evaluation order is unspecified (clang moved first).
  std::string admin = admin_override.empty() ? manifest->host.admin : admin_override;
  HostDaemon daemon(std::move(*manifest), std::move(admin), reporter);
  if (!cluster_url.empty()) daemon.join_cluster(cluster_url);
  if (credentials) daemon.use_credentials(std::move(*credentials));
  if (Status s = daemon.start(); !s) {
    reporter.error(s.error().describe());
    daemon.shutdown();
    return 1;
  }
  daemon.run_until_signal();
  return 0;
}

int cmd_cluster_init(const std::string& cluster_name, const std::vector<std::string>& host_names,
                     const std::string& kv_bucket, const std::string& out) {
  auto auth = cluster::make_cluster_auth(cluster_name, host_names, kv_bucket);
  if (!auth) return fail(auth.error().message);
  auto written = write_cluster_files(*auth, out);
  if (!written) return fail(written.error().message);
  std::printf("wrote (mode 0600, keep them private):\n");
  for (const auto& p : *written) std::printf("  %s\n", p.c_str());
  std::printf("\nstart the server:  nats-server -c %s/nats-server.conf -js -sd <store dir>\n",
              out.c_str());
  std::printf(
      "start each host:   capsule run <manifest> --cluster nats://<server>:4222 "
      "--cluster-name %s --host <name> --credentials %s/<name>.creds\n",
      cluster_name.c_str(), out.c_str());
  return 0;
}

int cmd_inspect(const std::string& path) {
  wasm::EngineConfig config;
  config.pooling.enabled = false;
  auto engine = wasm::WasmEngine::create(config);
  if (!engine) return fail(engine.error().describe());
  std::printf("file:     %s\n", path.c_str());
  // load_file type-checks every import against the linker `capsule run` instantiates with: a
  // component it accepts can start, one it refuses is named with each import this host lacks.
  auto c = (*engine)->load_file(path);
  if (!c) {
    std::printf("host:     %s@%s (Wasmtime %s)\ncompatible: no\n",
                std::string(wasm::kWitPackage).c_str(), std::string(wasm::kWitVersion).c_str(),
                std::string(wasm::WasmEngine::wasmtime_version()).c_str());
    // One printed line per line of the reason: each missing import, each cause in the chain.
    const std::string text = c.error().describe();
    std::string_view reason = text;
    while (!reason.empty()) {
      const auto nl = reason.find('\n');
      const auto line = reason.substr(0, nl);
      std::printf("  %.*s\n", static_cast<int>(line.size()), line.data());
      reason = nl == std::string_view::npos ? std::string_view{} : reason.substr(nl + 1);
    }
    return 1;
  }
  std::printf("sha256:   %s\n", (*c)->content_hash().c_str());
  std::printf("imports:\n");
  for (const auto& i : (*c)->interfaces().imports) std::printf("  %s\n", i.c_str());
  std::printf("exports:\n");
  for (const auto& e : (*c)->interfaces().exports) std::printf("  %s\n", e.c_str());
  if ((*c)->kind() == wasm::ComponentKind::kHttpProxy) {
    // Started as `capsule run` would serve it: instantiation is the proof that it can start.
    wasm::HttpProxyOptions options;
    options.id = ComponentId{"inspect", "component", "0"};
    auto proxy = (*engine)->instantiate_http_proxy(**c, std::move(options));
    if (!proxy) {
      std::printf("kind:     wasi:http/proxy component\ncompatible: no\n  %s\n",
                  proxy.error().describe().c_str());
      return 1;
    }
    std::printf(
        "kind:     wasi:http/proxy component (exports wasi:http/incoming-handler): "
        "serves HTTP requests through an HTTP route\n");
    std::printf("compatible: yes (this host serves wasi:http/proxy@0.2.x, Wasmtime %s)\n",
                std::string(wasm::WasmEngine::wasmtime_version()).c_str());
    return 0;
  }
  std::printf("kind:     capsule component (exports %s/lifecycle)\n",
              std::string(wasm::kWitPackage).c_str());
  auto inst = (*engine)->instantiate(**c, {ComponentId{"inspect", "component", "0"}, {}, nullptr});
  if (inst) {
    if (auto meta = inst->metadata()) {
      std::printf("metadata: %s %s - %s\n", meta->name.c_str(), meta->version.c_str(),
                  meta->description.c_str());
    }
  }
  std::printf("compatible: yes (this host implements %s@%s, Wasmtime %s)\n",
              std::string(wasm::kWitPackage).c_str(), std::string(wasm::kWitVersion).c_str(),
              std::string(wasm::WasmEngine::wasmtime_version()).c_str());
  return 0;
}

int cmd_new(const std::string& language, const std::string& name) {
  const auto prefix = installed_prefix();
  auto dir = write_project(language, name, ".", prefix);
  if (!dir) return fail(dir.error().message);
  std::printf("created %s/, a %s component project:\n  cd %s\n", name.c_str(), language.c_str(),
              name.c_str());
  std::printf("  cmake -B build%s && cmake --build build\n",
              prefix ? "" : " -DCMAKE_PREFIX_PATH=<where capsule is installed>");
  std::printf("  capsule run capsule.toml      # then, in another shell: capsule call app/%s hi\n",
              name.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Block SIGINT/SIGTERM in every thread (threads inherit the mask) so that `capsule run` takes
  // them with sigwait and shuts down gracefully instead of dying mid-write.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  CLI::App app{
      "capsule: runs WebAssembly components (WIT capsule:core@0.1.2) as sandboxed, "
      "supervised actors, and manages a running host through its admin endpoint."};
  app.require_subcommand(1);
  AdminClientOptions admin;
  // Every command that talks to a running host takes these (docs/cli.md, "Access").
  auto add_admin_options = [&admin](CLI::App* sub) {
    sub->add_option("--admin", admin.admin,
                    "the host's admin endpoint: its socket path, or a loopback host:port for its "
                    "TCP listener (default $CAPSULE_ADMIN, else <data dir>/admin.sock)");
    sub->add_option("--data-dir", admin.data_dir,
                    "the host's data dir, where admin.sock and admin.token are (default "
                    "$CAPSULE_DATA_DIR, else .capsule)");
    sub->add_option("--token-file", admin.token_file,
                    "for a TCP endpoint: file with its bearer token (default "
                    "$CAPSULE_ADMIN_TOKEN, else <data dir>/admin.token)");
  };

  auto* run =
      app.add_subcommand("run", "Start a host for an app manifest and run until SIGINT/SIGTERM");
  std::string manifest_path, log_format = "text", run_admin, run_cluster;
  run->add_option("manifest", manifest_path, "app manifest (TOML), e.g. examples/pipeline/app.toml")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--log-format", log_format, "text (for people) or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));
  run->add_option("--admin", run_admin,
                  "also serve the admin API on this loopback TCP address, with a bearer token "
                  "(overrides [host].admin; e.g. 127.0.0.1:0 for any free port)");
  run->add_option("--cluster", run_cluster,
                  "join a cluster over NATS as host [host].name, e.g. nats://127.0.0.1:4222");
  HostOverrides overrides;
  std::vector<std::string> run_groups;
  run->add_option("--cluster-name", overrides.cluster,
                  "override [host].cluster: hosts only see hosts of the same cluster name");
  run->add_option("--host", overrides.name,
                  "override [host].name (unique per cluster), so hosts can share one manifest");
  auto* groups_option =
      run->add_option(
             "--groups", run_groups,
             "override [host].groups, comma-separated: where [component.placement] puts components")
          ->delimiter(',');
  run->add_option("--data-dir", overrides.data_dir,
                  "override [host].data_dir (compile cache, state.db, audit.jsonl)");
  std::string run_credentials;
  run->add_option("--credentials", run_credentials,
                  "log in to the cluster's NATS server with this host's <name>.creds file "
                  "(written by `capsule cluster init`)")
      ->check(CLI::ExistingFile);

  auto* cluster_cmd = app.add_subcommand("cluster", "Set up a cluster");
  cluster_cmd->require_subcommand(1);
  auto* cluster_init = cluster_cmd->add_subcommand(
      "init",
      "Write a nats-server configuration that admits only the listed hosts, each allowed to "
      "publish only under its own name, and one credentials file per host");
  std::string init_cluster = "default", init_bucket = "capsule_kv", init_out;
  std::vector<std::string> init_hosts;
  cluster_init->add_option("--cluster-name", init_cluster, "the cluster's name ([host].cluster)");
  cluster_init->add_option("--hosts", init_hosts, "host names, comma-separated")
      ->required()
      ->delimiter(',');
  cluster_init->add_option("--kv-bucket", init_bucket,
                           "JetStream KV bucket the hosts may use (storage_backend = nats-kv)");
  cluster_init->add_option("--out", init_out, "directory to write the files to")->required();

  auto* inspect = app.add_subcommand(
      "inspect", "Show a component's imports, exports, metadata and whether this host can run it");
  std::string inspect_path;
  inspect->add_option("wasm", inspect_path, "component file")->required()->check(CLI::ExistingFile);

  auto* ps =
      app.add_subcommand("ps", "List running instances: state, restarts, mailbox depth, fuel");
  bool ps_json = false;
  ps->add_flag("--json", ps_json, "print the raw JSON");
  add_admin_options(ps);

  std::string target, payload, codec = "text";
  int timeout_ms = 5000;
  auto* send = app.add_subcommand("send", "Send a fire-and-forget message to a component instance");
  auto* call =
      app.add_subcommand("call", "Send a request to a component instance and print its reply");
  for (auto* sub : {send, call}) {
    sub->add_option("component", target, "instance id: namespace/name[/instance]")->required();
    sub->add_option("payload", payload, "message text")->required();
    sub->add_option("--codec", codec, "payload codec: text, json, cbor, raw")
        ->check(CLI::IsMember({"text", "json", "cbor", "raw"}));
    add_admin_options(sub);
  }
  call->add_option("--timeout-ms", timeout_ms, "how long to wait for the reply")
      ->check(CLI::PositiveNumber);

  std::string component, new_wasm;
  auto* stop = app.add_subcommand("stop", "Stop every instance of a component");
  auto* restart =
      app.add_subcommand("restart", "Stop a component and start it again from its manifest entry");
  auto* upgrade = app.add_subcommand(
      "upgrade", "Replace a running component with a new .wasm, keeping queued messages");
  for (auto* sub : {stop, restart, upgrade}) {
    sub->add_option("component", component, "namespace/name")->required();
    add_admin_options(sub);
  }
  upgrade->add_option("wasm", new_wasm, "the new component file")
      ->required()
      ->check(CLI::ExistingFile);

  auto* hosts = app.add_subcommand(
      "hosts", "List the hosts of the cluster as this host sees them: groups, components, adopted");
  bool hosts_json = false;
  hosts->add_flag("--json", hosts_json, "print the raw JSON");
  add_admin_options(hosts);

  auto* metrics =
      app.add_subcommand("metrics", "Print the host's Prometheus metrics (GET /metrics)");
  add_admin_options(metrics);
  auto* dashboard = app.add_subcommand(
      "dashboard",
      "Print a one-time login link to the host's live dashboard (needs its TCP listener)");
  add_admin_options(dashboard);
  auto* version = app.add_subcommand("version", "Print versions");
  auto* new_cmd = app.add_subcommand(
      "new",
      "Create a component project in a new directory <name>, ready to build with CMake against "
      "this capsule's installed guest SDK and to run with `capsule run capsule.toml`");
  std::string new_language, new_name;
  new_cmd->add_option("language", new_language, "c, cpp, python or js")->required();
  new_cmd
      ->add_option("name", new_name,
                   "project name: a lowercase letter, then lowercase letters, digits, '-' or "
                   "'_' (it names the directory, the .wasm and the component app/<name>)")
      ->required();
  new_cmd->footer(
      "Writes <name>/CMakeLists.txt (find_package(capsule COMPONENTS guest)), the source under "
      "src/, capsule.toml (runs it as app/<name>), README.md and .gitignore. Refuses an existing "
      "<name>. Needs the guest toolchain: clang-19 and wasi-libc for c and cpp, componentize-py "
      "for python, Node.js and componentize-js for js (scripts/bootstrap.sh; "
      "docs/writing-components.md).");

  CLI11_PARSE(app, argc, argv);

  if (*run) {
    if (groups_option->count() > 0) overrides.groups = run_groups;
    return cmd_run(manifest_path, run_admin, log_format, run_cluster, run_credentials, overrides);
  }
  if (*cluster_init) return cmd_cluster_init(init_cluster, init_hosts, init_bucket, init_out);
  if (*hosts) {
    return admin_request(admin, "GET", "/v1/hosts", json(), [&](const json& r) {
      if (hosts_json) {
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
  if (*dashboard) {
    // The code is good once, for two minutes: the link is for opening now, not for keeping.
    return admin_request(admin, "POST", "/v1/dashboard-code", json::object(), [](const json& r) {
      std::printf("%s\n", r.value("url", "").c_str());
      std::fprintf(stderr, "open it within %lld s; it works once (docs/cli.md, \"Dashboard\")\n",
                   static_cast<long long>(r.value("expires_in_s", 0)));
    });
  }
  if (*inspect) return cmd_inspect(inspect_path);
  if (*new_cmd) return cmd_new(new_language, new_name);
  if (*version) {
    std::printf("capsule 0.1.0 (WIT %s@%s, Wasmtime %s)\n", std::string(wasm::kWitPackage).c_str(),
                std::string(wasm::kWitVersion).c_str(),
                std::string(wasm::WasmEngine::wasmtime_version()).c_str());
    return 0;
  }
  if (*metrics) {
    auto endpoint = resolve_admin(admin);
    if (!endpoint) return fail(endpoint.error().message);
    auto r = http_call(*endpoint, "GET", "/metrics", "", std::chrono::seconds(10));
    if (!r) return fail(r.error().message);
    if (r->status != 200) {
      const json e = json::parse(r->body, nullptr, false);
      return fail(e.is_object() && e.contains("error") ? e["error"].dump() : r->body);
    }
    std::fputs(r->body.c_str(), stdout);
    return r->status == 200 ? 0 : 1;
  }
  if (*ps) {
    return admin_request(admin, "GET", "/v1/ps", json(), [&](const json& r) {
      if (ps_json) {
        std::printf("%s\n", r.dump(2).c_str());
        return;
      }
      std::printf("%-28s %-16s %-16s %-8s %8s %8s %10s %14s\n", "INSTANCE", "COMPONENT", "GROUP",
                  "STATE", "RESTARTS", "MAILBOX", "MESSAGES", "FUEL");
      for (const auto& i : r["instances"]) {
        std::printf(
            "%-28s %-16s %-16s %-8s %8llu %8llu %10llu %14llu\n",
            i["id"].get<std::string>().c_str(), i["component"].get<std::string>().c_str(),
            i.value("group", "").c_str(), i["state"].get<std::string>().c_str(),
            i["restarts"].get<unsigned long long>(), i["mailbox_depth"].get<unsigned long long>(),
            i["processed"].get<unsigned long long>(), i["fuel_consumed"].get<unsigned long long>());
      }
      if (r.contains("on_demand") && !r["on_demand"].empty()) {
        std::printf("\n%-28s %8s %8s %12s %14s %10s %8s\n", "ON-DEMAND COMPONENT", "ACTIVE",
                    "WAITING", "ACTIVATIONS", "DEACTIVATIONS", "EVICTIONS", "FAILED");
        for (const auto& c : r["on_demand"]) {
          std::printf("%-28s %8llu %8llu %12llu %14llu %10llu %8llu\n",
                      c["component"].get<std::string>().c_str(),
                      c["active"].get<unsigned long long>(), c["waiting"].get<unsigned long long>(),
                      c["activations"].get<unsigned long long>(),
                      c["deactivations"].get<unsigned long long>(),
                      c["evictions"].get<unsigned long long>(),
                      c["failed_activations"].get<unsigned long long>());
        }
      }
    });
  }
  if (*send || *call) {
    json body{
        {"target", target}, {"payload", payload}, {"codec", codec}, {"timeout_ms", timeout_ms}};
    return admin_request(
        admin, "POST", *send ? "/v1/send" : "/v1/call", body,
        [&](const json& r) {
          if (*call) std::printf("%s\n", r.value("payload", "").c_str());
        },
        std::chrono::milliseconds(timeout_ms + 5000));
  }
  if (*stop || *restart) {
    return admin_request(admin, "POST", *stop ? "/v1/stop" : "/v1/restart",
                         json{{"component", component}}, [&](const json&) {
                           std::printf("%s %s\n", *stop ? "stopped" : "restarted",
                                       component.c_str());
                         });
  }
  if (*upgrade) {
    const auto abs = std::filesystem::absolute(new_wasm).string();
    return admin_request(admin, "POST", "/v1/upgrade",
                         json{{"component", component}, {"path", abs}}, [&](const json& r) {
                           std::printf("upgraded %s (%zu instance(s)) to %s\n", component.c_str(),
                                       r.value("instances", std::size_t{0}), new_wasm.c_str());
                         });
  }
  return 0;
}

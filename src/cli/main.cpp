// capsule: run WebAssembly components as supervised actors, and talk to a running host. This file
// is the command line (CLI11): the commands themselves are in *_commands.cpp.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <capsule/cluster/cluster_pki.hpp>
#include <capsule/wasm/engine.hpp>
#include <capsule/wasm/wit_contract.hpp>

#include "commands.hpp"

using namespace capsule;
using namespace capsule::cli;

int main(int argc, char** argv) {
  // Block SIGINT/SIGTERM in every thread (threads inherit the mask) so that `capsule run` takes
  // them with sigwait and shuts down gracefully instead of dying mid-write.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  CLI::App app{
      "capsule: runs WebAssembly components (WIT capsule:core@0.1.3) as sandboxed, "
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
                  "join a cluster over NATS as host [host].name, e.g. nats://127.0.0.1:4222 "
                  "(or a comma-separated list of a NATS cluster's servers)");
  manifest::HostOverrides overrides;
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
  bool init_tls = false;
  std::vector<std::string> init_tls_names;
  cluster_init->add_flag(
      "--tls", init_tls,
      "also make a private CA, a certificate for nats-server and one per host (CN = host name; "
      "keys mode 0600, the CA's key is not kept unless --keep-ca-key): the server then accepts "
      "only TLS connections from clients with a certificate of this CA, and each <host>.creds "
      "names its files");
  bool init_keep_ca_key = false;
  cluster_init->add_flag("--keep-ca-key", init_keep_ca_key,
                         "with --tls: also write ca.key (mode 0600), from which `cluster renew` "
                         "issues new certificates; whoever has it can make certificates the "
                         "cluster trusts: the cluster's most sensitive file");
  cluster_init
      ->add_option("--tls-names", init_tls_names,
                   "with --tls: DNS names and IP addresses hosts use to reach nats-server, "
                   "comma-separated; each URL's host is checked against them "
                   "(default: localhost,127.0.0.1)")
      ->delimiter(',');

  auto* cluster_renew = cluster_cmd->add_subcommand(
      "renew",
      "Issue new certificates from the CA kept by `cluster init --tls --keep-ca-key`: for hosts "
      "(renewal, or a new host) and the server");
  std::string renew_dir, renew_out;
  std::vector<std::string> renew_hosts, renew_names;
  bool renew_server = false, renew_force = false;
  int renew_days = cluster::kLeafValidDays;
  cluster_renew->add_option("--dir", renew_dir, "the directory of ca.pem and ca.key")->required();
  cluster_renew->add_option("--out", renew_out, "where to write the files (default: --dir)");
  cluster_renew->add_option("--hosts", renew_hosts, "hosts to issue for, comma-separated")
      ->delimiter(',');
  cluster_renew->add_flag("--server", renew_server, "also issue nats-server.pem/.key");
  cluster_renew
      ->add_option("--tls-names", renew_names,
                   "with --server: the server's DNS names and IP addresses, comma-separated "
                   "(default: localhost,127.0.0.1)")
      ->delimiter(',');
  cluster_renew->add_option("--days", renew_days, "days the certificates are valid")
      ->check(CLI::Range(1, 3650));
  cluster_renew->add_flag("--force", renew_force,
                          "replace existing certificate and key files (never done without it)");

  auto* cluster_add = cluster_cmd->add_subcommand(
      "add-host",
      "Add a host to a cluster made by `cluster init`: its .creds file, with --tls its "
      "certificate (needs ca.key), and nats-server.conf with its user (reload the server)");
  std::string add_dir, add_host, add_bucket = "capsule_kv";
  cluster_add->add_option("--dir", add_dir, "the directory `cluster init` wrote")->required();
  cluster_add->add_option("--host", add_host, "the new host's name")->required();
  cluster_add->add_option("--kv-bucket", add_bucket, "the KV bucket given to `cluster init`");

  auto* inspect = app.add_subcommand(
      "inspect", "Show a component's imports, exports, metadata and whether this host can run it");
  std::string inspect_path;
  inspect->add_option("wasm", inspect_path, "component file")->required()->check(CLI::ExistingFile);

  auto* ps =
      app.add_subcommand("ps", "List running instances: state, restarts, mailbox depth, fuel");
  bool ps_json = false;
  ps->add_flag("--json", ps_json, "print the raw JSON");
  add_admin_options(ps);

  MessageOptions message;
  auto* send = app.add_subcommand("send", "Send a fire-and-forget message to a component instance");
  auto* call =
      app.add_subcommand("call", "Send a request to a component instance and print its reply");
  for (auto* sub : {send, call}) {
    sub->add_option("component", message.target, "instance id: namespace/name[/instance]")
        ->required();
    sub->add_option("payload", message.payload, "message text")->required();
    sub->add_option("--codec", message.codec, "payload codec: text, json, cbor, raw")
        ->check(CLI::IsMember({"text", "json", "cbor", "raw"}));
    add_admin_options(sub);
  }
  call->add_option("--timeout-ms", message.timeout_ms, "how long to wait for the reply")
      ->check(CLI::PositiveNumber);

  std::string component, new_wasm;
  auto* stop = app.add_subcommand("stop", "Stop every instance of a component");
  auto* restart = app.add_subcommand(
      "restart",
      "Stop a component and start it again from its manifest entry; or start a wasi:http/proxy "
      "route's pool of instances afresh (a route that gave up serves again)");
  auto* upgrade = app.add_subcommand(
      "upgrade", "Replace a running component with a new .wasm, keeping queued messages");
  for (auto* sub : {stop, upgrade}) {
    sub->add_option("component", component, "namespace/name")->required();
    add_admin_options(sub);
  }
  restart
      ->add_option("component", component,
                   "a component's namespace/name, or a wasi:http/proxy route: its path (/api) or "
                   "its name (namespace/name)")
      ->required();
  add_admin_options(restart);
  restart->footer(
      "A route restart drops the route's idle instances (busy ones after their answer), empties "
      "its restart-intensity window and clears its failed state: the next request gets a fresh "
      "instance. It works on a serving route too. Logged with who asked (docs/http.md).");
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
  if (*cluster_init) {
    if (!init_tls_names.empty() && !init_tls) return fail("--tls-names needs --tls");
    if (init_tls && init_tls_names.empty()) init_tls_names = {"localhost", "127.0.0.1"};
    if (init_keep_ca_key && !init_tls) return fail("--keep-ca-key needs --tls");
    return cmd_cluster_init(init_cluster, init_hosts, init_bucket, init_out,
                            init_tls ? init_tls_names : std::vector<std::string>{},
                            init_keep_ca_key);
  }
  if (*cluster_add) return cmd_cluster_add_host(add_dir, add_host, add_bucket);
  if (*cluster_renew) {
    if (!renew_names.empty() && !renew_server) return fail("--tls-names needs --server");
    if (renew_server && renew_names.empty()) renew_names = {"localhost", "127.0.0.1"};
    return cmd_cluster_renew(renew_dir, renew_out.empty() ? renew_dir : renew_out, renew_hosts,
                             renew_names, renew_force, renew_days);
  }
  if (*hosts) return cmd_hosts(admin, hosts_json);
  if (*dashboard) return cmd_dashboard(admin);
  if (*inspect) return cmd_inspect(inspect_path);
  if (*new_cmd) return cmd_new(new_language, new_name);
  if (*version) {
    std::printf("capsule 0.1.0 (WIT %s@%s, Wasmtime %s)\n", std::string(wasm::kWitPackage).c_str(),
                std::string(wasm::kWitVersion).c_str(),
                std::string(wasm::WasmEngine::wasmtime_version()).c_str());
    return 0;
  }
  if (*metrics) return cmd_metrics(admin);
  if (*ps) return cmd_ps(admin, ps_json);
  if (*send || *call) return cmd_send(admin, message, static_cast<bool>(*call));
  if (*stop || *restart) return cmd_stop(admin, component, static_cast<bool>(*restart));
  if (*upgrade) return cmd_upgrade(admin, component, new_wasm);
  return 0;
}

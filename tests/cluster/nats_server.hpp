#pragma once

#include <arpa/inet.h>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace capsule::cluster::testing {

// A real nats-server on a loopback port it chooses itself on the first start (`-p -1`, read back
// from its ports file: picking a free port first and passing it would race with other tests
// under `ctest -j`); later starts reuse that port so clients reconnect to the same URL. Owned by
// the test: stopped (SIGTERM, then SIGKILL)
// by stop() or the destructor, so no test leaves one behind. Mode::kJetStream runs it with
// JetStream (`-js -sd <dir>`) on a fresh store directory that survives stop()/start() (a restart
// keeps the data) and is removed by the destructor.
class NatsServer {
 public:
  enum class Mode : std::uint8_t { kCore, kJetStream };

  NatsServer() : NatsServer(Mode::kCore) {}
  // `config`: the text of a configuration file (e.g. ClusterAuth::server_config()) to run with.
  explicit NatsServer(Mode mode, const std::string& config = {}) {
    std::string dir = (std::filesystem::temp_directory_path() / "capsule-nats-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) return;  // running() stays false
    work_dir_ = dir;
    if (!config.empty()) {
      config_file_ = work_dir_ / "nats-server.conf";
      std::ofstream(config_file_) << config;
    }
    if (mode == Mode::kJetStream) {
      store_dir_ = work_dir_ / "store";
      std::error_code ignored;
      std::filesystem::create_directories(store_dir_, ignored);
    }
    start();
  }
  ~NatsServer() {
    stop();
    if (!work_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(work_dir_, ignored);
    }
  }
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  // The nats-server binary: $CAPSULE_TEST_NATS_SERVER if set (CTest runs the lease and storage
  // tests again on nats-server 2.14 that way), else the one CMake found (Debian's).
  [[nodiscard]] static const char* binary() {
    const char* chosen = std::getenv("CAPSULE_TEST_NATS_SERVER");  // NOLINT(concurrency-mt-unsafe)
    return chosen != nullptr && *chosen != '\0' ? chosen : CAPSULE_NATS_SERVER;
  }

  [[nodiscard]] std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] bool running() const { return pid_ > 0; }
  // The route port of a server whose configuration has a cluster block (0 if none), as the
  // server wrote it into its ports file at its last start.
  [[nodiscard]] int cluster_port() const { return read_port("cluster"); }
  // Replaces the configuration file; the server reads it at its next start.
  void set_config(const std::string& text) {
    if (work_dir_.empty()) return;
    config_file_ = work_dir_ / "nats-server.conf";
    std::ofstream(config_file_) << text;
  }
  [[nodiscard]] bool jetstream() const { return !store_dir_.empty(); }
  [[nodiscard]] const std::filesystem::path& store_dir() const { return store_dir_; }

  // Starts the server and waits (up to 5 s) until it accepts connections.
  bool start() {
    if (pid_ > 0) return true;
    if (work_dir_.empty()) return false;
    const std::string port = port_ > 0 ? std::to_string(port_) : "-1";  // -1: the server picks
    std::vector<std::string> args{
        binary(), "-a", "127.0.0.1", "-p", port, "--ports_file_dir", work_dir_.string()};
    if (jetstream()) {
      args.insert(args.end(), {"-js", "-sd", store_dir_.string()});
    }
    if (!config_file_.empty()) args.insert(args.end(), {"-c", config_file_.string()});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, binary(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return false;
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (port_ <= 0) port_ = read_port("nats");
      if (port_ > 0 && accepts()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // A crash: SIGKILL, no clean shutdown (JetStream does not flush or step down first).
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

 private:
  // A port from `<exe>_<pid>.ports` of the running server: `kind` "nats" for clients
  // ({"nats":["nats://127.0.0.1:PORT"],...}; "tls://" when the configuration requires TLS),
  // "cluster" for routes. 0 while the server has not written it yet.
  [[nodiscard]] int read_port(const std::string& kind) const {
    if (pid_ <= 0) return 0;
    const auto file = work_dir_ / ("nats-server_" + std::to_string(pid_) + ".ports");
    std::ifstream in(file);
    std::string text;  // one line of JSON
    std::getline(in, text);
    const auto list = text.find("\"" + kind + "\":[");
    if (list == std::string::npos) return 0;
    const std::string marker = "://127.0.0.1:";
    const auto at = text.find(marker, list);
    if (at == std::string::npos) return 0;
    return std::atoi(text.c_str() + at + marker.size());
  }

  [[nodiscard]] bool accepts() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }

  int port_ = 0;  // 0 until the first start read it back
  pid_t pid_ = -1;
  std::filesystem::path work_dir_;     // ports file, and the JetStream store under it
  std::filesystem::path store_dir_;    // empty: no JetStream
  std::filesystem::path config_file_;  // empty: none
};

}  // namespace capsule::cluster::testing

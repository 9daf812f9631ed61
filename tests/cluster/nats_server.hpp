#pragma once

#include <arpa/inet.h>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
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

// A real nats-server on a free loopback port, owned by the test: stopped (SIGTERM, then SIGKILL)
// by stop() or the destructor, so no test leaves one behind. Mode::kJetStream runs it with
// JetStream (`-js -sd <dir>`) on a fresh store directory that survives stop()/start() (a restart
// keeps the data) and is removed by the destructor.
class NatsServer {
 public:
  enum class Mode : std::uint8_t { kCore, kJetStream };

  NatsServer() : NatsServer(Mode::kCore) {}
  explicit NatsServer(Mode mode) : port_(free_port()) {
    if (mode == Mode::kJetStream) {
      std::string dir = (std::filesystem::temp_directory_path() / "capsule-nats-XXXXXX").string();
      if (::mkdtemp(dir.data()) != nullptr) store_dir_ = dir;
      if (store_dir_.empty()) return;  // running() stays false
    }
    start();
  }
  ~NatsServer() {
    stop();
    if (!store_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(store_dir_, ignored);
    }
  }
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  [[nodiscard]] std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] bool running() const { return pid_ > 0; }
  [[nodiscard]] bool jetstream() const { return !store_dir_.empty(); }
  [[nodiscard]] const std::filesystem::path& store_dir() const { return store_dir_; }

  // Starts the server and waits (up to 5 s) until it accepts connections.
  bool start() {
    if (pid_ > 0) return true;
    const std::string port = std::to_string(port_);
    std::vector<std::string> args{CAPSULE_NATS_SERVER, "-a", "127.0.0.1", "-p", port};
    if (jetstream()) {
      args.insert(args.end(), {"-js", "-sd", store_dir_.string()});
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, CAPSULE_NATS_SERVER, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return false;
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (accepts()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
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
  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
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

  int port_;
  pid_t pid_ = -1;
  std::filesystem::path store_dir_;  // empty: no JetStream
};

}  // namespace capsule::cluster::testing

#pragma once
// Three real nats-servers clustered with routes, JetStream on each with its own store: the way a
// deployment runs JetStream, so that buckets made with replicas 3 keep a copy on every server
// and a write the leader acknowledged survives the loss of any one of them.
#include <arpa/inet.h>
#include <array>
#include <chrono>
#include <memory>
#include <nats/nats.h>
#include <netinet/in.h>
#include <random>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "nats_server.hpp"

namespace capsule::cluster::testing {

class NatsCluster {
 public:
  static constexpr int kSize = 3;

  // Starts the three servers and waits (up to 30 s) until JetStream can place a stream on all
  // of them. Every port is chosen by a server and read back from its ports file.
  //
  // A clustered JetStream server refuses to start without a configured route, and the first one
  // cannot know the others' route ports yet. So n1's first life routes to a placeholder: a
  // socket this fixture listens on (and never accepts from) for its whole life, so that no other
  // server can take the port. n2 and n3 route to n1 and learn of each other from it. Later lives
  // (server(i).start() after stop() or kill()) route every server to the other two on the route
  // ports of the first life and listen on their own again, as a static configuration would.
  NatsCluster() : name_("capsule_r3_" + std::to_string(std::random_device{}())) {
    placeholder_ = listen_placeholder();
    if (placeholder_ < 0) return;
    servers_[0] = std::make_unique<NatsServer>(NatsServer::Mode::kJetStream,
                                               config(0, -1, {placeholder_port_}));
    if (!servers_[0]->running() || servers_[0]->cluster_port() <= 0) return;
    route_ports_[0] = servers_[0]->cluster_port();
    for (int i = 1; i < kSize; ++i) {
      servers_[i] = std::make_unique<NatsServer>(NatsServer::Mode::kJetStream,
                                                 config(i, -1, {route_ports_[0]}));
      if (!servers_[i]->running()) return;
      route_ports_[i] = servers_[i]->cluster_port();
    }
    for (int i = 0; i < kSize; ++i) {
      std::vector<int> others;
      for (int j = 0; j < kSize; ++j) {
        if (j != i) others.push_back(route_ports_[j]);
      }
      servers_[i]->set_config(config(i, route_ports_[i], others));
    }
    ready_ = wait_until_replicas_fit();
  }
  ~NatsCluster() {
    for (auto& s : servers_) s.reset();  // servers first: n1 must not find the port free
    if (placeholder_ >= 0) ::close(placeholder_);
  }
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  [[nodiscard]] bool ready() const { return ready_; }
  // Every server's client URL, comma-separated: what a host is given.
  [[nodiscard]] std::string urls() const {
    std::string out;
    for (const auto& s : servers_) out += (out.empty() ? "" : ",") + s->url();
    return out;
  }
  [[nodiscard]] NatsServer& server(int i) { return *servers_.at(static_cast<std::size_t>(i)); }
  [[nodiscard]] static std::string server_name(int i) { return "n" + std::to_string(i + 1); }
  // The index of server `name` ("n2" -> 1), -1 if none.
  [[nodiscard]] static int index_of(const std::string& name) {
    for (int i = 0; i < kSize; ++i) {
      if (server_name(i) == name) return i;
    }
    return -1;
  }
  // The index of the server whose client URL is `url`, -1 if none.
  [[nodiscard]] int index_of_url(const std::string& url) const {
    for (int i = 0; i < kSize; ++i) {
      if (servers_[static_cast<std::size_t>(i)]->url() == url) return i;
    }
    return -1;
  }

  // The index of the server that leads `stream` now (-1 if none answers within `wait`), asked of
  // any live server; `not_on` excludes a server (one just killed, still named until the others
  // elect a new leader).
  [[nodiscard]] int leader_of(const std::string& stream, std::chrono::milliseconds wait,
                              int not_on = -1) const {
    return poll(wait, [&](jsCtx* js) {
      jsStreamInfo* si = nullptr;
      jsErrCode code{};
      int leader = -1;
      if (js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &code) == NATS_OK &&
          si->Cluster != nullptr && si->Cluster->Leader != nullptr) {
        leader = index_of(si->Cluster->Leader);
      }
      jsStreamInfo_Destroy(si);
      return leader != not_on ? leader : -1;
    });
  }

  // Waits until server `i` is a current replica of `stream` again (caught up after a restart).
  [[nodiscard]] bool current_in(const std::string& stream, int i,
                                std::chrono::milliseconds wait) const {
    return poll(wait, [&](jsCtx* js) {
             jsStreamInfo* si = nullptr;
             jsErrCode code{};
             int found = -1;
             if (js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &code) == NATS_OK &&
                 si->Cluster != nullptr) {
               for (int r = 0; r < si->Cluster->ReplicasLen; ++r) {
                 const jsPeerInfo* p = si->Cluster->Replicas[r];
                 if (p->Name == server_name(i) && p->Current && !p->Offline && p->Lag == 0) {
                   found = i;
                 }
               }
             }
             jsStreamInfo_Destroy(si);
             return found;
           }) == i;
  }

  // The stream's configured replicas (0 if it cannot be read).
  [[nodiscard]] int replicas_of(const std::string& stream) const {
    return poll(std::chrono::seconds(5), [&](jsCtx* js) {
      jsStreamInfo* si = nullptr;
      jsErrCode code{};
      int replicas = -1;
      if (js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &code) == NATS_OK) {
        replicas = static_cast<int>(si->Config->Replicas);
      }
      jsStreamInfo_Destroy(si);
      return replicas;
    });
  }

 private:
  [[nodiscard]] std::string config(int i, int listen, const std::vector<int>& routes) const {
    std::string text = "server_name: " + server_name(i) + "\ncluster {\n  name: " + name_ +
                       "\n  listen: 127.0.0.1:" + std::to_string(listen) +
                       "\n  no_advertise: true\n  routes: [\n";
    for (const int port : routes)
      text += "    nats-route://127.0.0.1:" + std::to_string(port) + "\n";
    // no_advertise: clients know the servers they were given, so a test that cuts one server
    // off is not undone by the others telling its clients where else to go.
    return text + "  ]\n}\n";
  }

  int listen_placeholder() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd, 1) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (fd >= 0) ::close(fd);
      return -1;
    }
    placeholder_port_ = ntohs(addr.sin_port);
    return fd;
  }

  // Calls `ask` with a JetStream context on the live servers until it returns >= 0 or `wait`
  // passes; returns its last answer (-1: none).
  template <typename Ask>
  int poll(std::chrono::milliseconds wait, Ask&& ask) const {
    std::string live;
    for (const auto& s : servers_) {
      if (s && s->running()) live += (live.empty() ? "" : ",") + s->url();
    }
    natsConnection* nc = nullptr;
    if (live.empty() || natsConnection_ConnectTo(&nc, live.c_str()) != NATS_OK) {
      natsConnection_Destroy(nc);
      return -1;
    }
    jsCtx* js = nullptr;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 1000;
    int answer = -1;
    if (natsConnection_JetStream(&js, nc, &jo) == NATS_OK) {
      const auto deadline = std::chrono::steady_clock::now() + wait;
      while ((answer = ask(js)) < 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return answer;
  }

  // The meta group has a leader and knows all three servers once a stream of three replicas
  // can be created.
  bool wait_until_replicas_fit() const {
    return poll(std::chrono::seconds(30), [](jsCtx* js) {
             jsStreamConfig sc;
             jsStreamConfig_Init(&sc);
             sc.Name = "capsule_probe";
             const char* subjects[] = {"capsule.probe"};
             sc.Subjects = subjects;
             sc.SubjectsLen = 1;
             sc.Replicas = kSize;
             sc.Storage = js_MemoryStorage;
             jsStreamInfo* si = nullptr;
             jsErrCode code{};
             const bool made = js_AddStream(&si, js, &sc, nullptr, &code) == NATS_OK;
             jsStreamInfo_Destroy(si);
             if (made) static_cast<void>(js_DeleteStream(js, "capsule_probe", nullptr, &code));
             return made ? 1 : -1;
           }) == 1;
  }

  std::string name_;
  int placeholder_ = -1;
  int placeholder_port_ = 0;
  std::array<int, kSize> route_ports_{};
  std::array<std::unique_ptr<NatsServer>, kSize> servers_;
  bool ready_ = false;
};

}  // namespace capsule::cluster::testing

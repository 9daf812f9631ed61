#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <httplib.h>

namespace capsule::daemon {

// What one connection of the HTTP trigger may do (HttpSection, docs/http.md).
struct TriggerConnectionLimits {
  std::size_t max_connections = 64;
  std::uint64_t max_header_bytes = 16 << 10;
  std::chrono::milliseconds read_timeout{5'000};
  std::chrono::milliseconds keep_alive_timeout{5'000};
  std::chrono::milliseconds write_timeout{5'000};
};

// cpp-httplib's server with the connection handling a public listener needs and 0.11.4 lacks:
// * at most max_connections served at once: one more is answered 503 and closed at once, on one
//   of two spare threads, without reading it (so a flood cannot queue behind the live ones);
// * a deadline for a whole request (head and body) from its first byte, not only per read, so a
//   client dripping one byte a second (slowloris) is cut off after read_timeout;
// * a hard cap on the bytes of a request head: a header line of megabytes is 431, not buffered;
// * keep-alive idle time in milliseconds, waited in slices so that stop() closes idle
//   connections at once while requests in flight finish (the graceful drain).
class TriggerHttpServer final : public httplib::Server {
 public:
  explicit TriggerHttpServer(TriggerConnectionLimits limits);

  // The head of the request this thread is reading has arrived whole (the pre-routing handler
  // calls it): the head cap no longer applies to what follows.
  static void head_received();
  // The answer being written is the connection's last (a refusal whose body was not read):
  // cpp-httplib sends "Connection: close" but keeps reading, so the connection waited out its
  // keep-alive time, and a body sent anyway would have been parsed as the next request.
  static void close_after_answer();
  // Whether the request this thread failed to parse was cut off by the head cap.
  [[nodiscard]] static bool head_too_large();

  // After bind: cpp-httplib 0.11.4 listens with a backlog of 5, so a burst of connects (a load
  // balancer opening its pool, wrk -c64) overflowed it and the dropped SYNs were retried after
  // the kernel's 1 s initial retransmission timeout: those connections' first request took 1 s.
  void widen_backlog();

  [[nodiscard]] std::size_t connections() const { return live_.load(); }
  [[nodiscard]] std::uint64_t refused() const { return refused_.load(); }

 private:
  bool process_and_close_socket(socket_t sock) override;

  TriggerConnectionLimits limits_;
  std::atomic<std::size_t> live_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace capsule::daemon

#include "dashboard.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "dashboard_assets.hpp"

namespace capsule::daemon {
namespace {

using nlohmann::json;

std::string dump(const json& j) {
  // Log lines may carry bytes that are not UTF-8 (guest output): replaced, never a throw.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// "event: snapshot\ndata: {...}\n\n"; a JSON dump has no newline, so one data line is enough.
std::string sse(const char* event, const json& data) {
  return std::string("event: ") + event + "\ndata: " + dump(data) + "\n\n";
}

HttpResponse asset(std::string_view name, const char* content_type) {
  HttpResponse r{200, content_type, std::string(dashboard_asset(name))};
  r.headers = {{"Cache-Control", "no-store"},
               // Everything the page loads comes from this listener: no inline script, no CDN.
               {"Content-Security-Policy",
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"}};
  return r;
}

// A count or a timestamp (nlohmann keeps a signed one, e.g. a duration's count(), as signed).
std::uint64_t counter(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return 0;
  return it->is_number_unsigned()
             ? it->get<std::uint64_t>()
             : static_cast<std::uint64_t>(std::max<std::int64_t>(0, it->get<std::int64_t>()));
}

}  // namespace

void add_rates(json& snapshot, const json* previous) {
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> before;
  double seconds = 0;
  if (previous != nullptr) {
    for (const auto& i : (*previous)["instances"]) {
      before[i.value("id", "")] = {counter(i, "processed"), counter(i, "calls")};
    }
    seconds = static_cast<double>(counter(snapshot, "ts_ms") - counter(*previous, "ts_ms")) / 1000;
  }
  // The increase since the previous snapshot; an instance that restarted counts from 0.
  auto delta = [](std::uint64_t now, std::uint64_t then) { return now >= then ? now - then : now; };
  double messages = 0;
  double calls = 0;
  for (auto& i : snapshot["instances"]) {
    const auto it = before.find(i.value("id", ""));
    const auto [p0, c0] =
        it == before.end() ? std::pair<std::uint64_t, std::uint64_t>{0, 0} : it->second;
    const double m =
        seconds > 0 ? static_cast<double>(delta(counter(i, "processed"), p0)) / seconds : 0.0;
    const double c =
        seconds > 0 ? static_cast<double>(delta(counter(i, "calls"), c0)) / seconds : 0.0;
    i["msg_rate"] = m;
    i["call_rate"] = c;
    messages += m;
    calls += c;
  }
  const double requests =
      seconds > 0 && previous != nullptr
          ? static_cast<double>(delta(counter(snapshot["requests"], "started"),
                                      counter((*previous)["requests"], "started"))) /
                seconds
          : 0.0;
  snapshot["rates"] = {{"messages_per_s", messages},
                       {"calls_per_s", calls},
                       {"requests_per_s", requests},
                       {"interval_s", seconds}};
}

// One open /v1/events: its place among kMaxStreams (given back when cpp-httplib drops the
// response, however the stream ended) and what it sent last.
class Dashboard::Stream {
 public:
  Stream(Dashboard& dashboard, std::shared_ptr<Streams> streams)
      : dashboard_(dashboard), streams_(std::move(streams)) {}
  ~Stream() {
    std::lock_guard lock(streams_->mutex);
    --streams_->open;
    streams_->changed.notify_all();
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // One call of the chunked content provider: waits out the period (or the close), then writes.
  bool next(const ChunkWriter& write) {
    if (!started_) {
      started_ = true;
      // The browser reconnects by itself 2 s after a lost stream.
      return write("retry: 2000\n\n") && send(write);
    }
    {
      std::unique_lock lock(streams_->mutex);
      streams_->changed.wait_for(lock, dashboard_.period_, [&] { return streams_->closed; });
      if (streams_->closed) {
        static_cast<void>(write(sse("bye", json{{"reason", "the host is shutting down"}})));
        return false;
      }
    }
    return send(write);
  }

 private:
  bool send(const ChunkWriter& write) {
    json snapshot = dashboard_.snapshot_();
    add_rates(snapshot, previous_ ? &*previous_ : nullptr);
    const DashboardFeed& feed = *dashboard_.feed_;
    snapshot["log"] = feed.log.since(log_seq_);
    snapshot["failures"] = feed.failures.since(failure_seq_);
    snapshot["denials"] = feed.denials.since(denial_seq_);
    auto last = [](const json& events, std::uint64_t seq) {
      return events.empty() ? seq : events.back()["seq"].get<std::uint64_t>();
    };
    log_seq_ = last(snapshot["log"], log_seq_);
    failure_seq_ = last(snapshot["failures"], failure_seq_);
    denial_seq_ = last(snapshot["denials"], denial_seq_);
    const bool sent = write(sse("snapshot", snapshot));
    // Only the counters are needed next time.
    snapshot.erase("log");
    previous_ = std::move(snapshot);
    return sent;
  }

  Dashboard& dashboard_;
  std::shared_ptr<Streams> streams_;
  bool started_ = false;
  std::optional<json> previous_;
  std::uint64_t log_seq_ = 0;
  std::uint64_t failure_seq_ = 0;
  std::uint64_t denial_seq_ = 0;
};

Dashboard::Dashboard(Snapshot snapshot, std::shared_ptr<DashboardFeed> feed,
                     std::chrono::milliseconds period)
    : snapshot_(std::move(snapshot)),
      feed_(std::move(feed)),
      period_(period),
      streams_(std::make_shared<Streams>()) {}

Dashboard::~Dashboard() {
  close();
}

void Dashboard::close() {
  std::lock_guard lock(streams_->mutex);
  streams_->closed = true;
  streams_->changed.notify_all();
}

json Dashboard::snapshot_with_feed() const {
  json snapshot = snapshot_();
  add_rates(snapshot, nullptr);
  snapshot["log"] = feed_->log.since(0);
  snapshot["failures"] = feed_->failures.since(0);
  snapshot["denials"] = feed_->denials.since(0);
  return snapshot;
}

std::optional<HttpResponse> Dashboard::route(const HttpRequest& request) {
  if (request.method != "GET") return std::nullopt;
  const std::string& path = request.path;
  if (path == "/dashboard") {
    HttpResponse r{308, "text/plain", "/dashboard/\n"};
    r.headers = {{"Location", "/dashboard/"}};
    return r;
  }
  if (path == "/dashboard/" || path == "/dashboard/index.html") {
    return asset("index.html", "text/html; charset=utf-8");
  }
  if (path == "/dashboard/app.js") return asset("app.js", "text/javascript; charset=utf-8");
  if (path == "/dashboard/style.css") return asset("style.css", "text/css; charset=utf-8");
  if (path == "/v1/dashboard") {
    return HttpResponse{200, "application/json", dump(snapshot_with_feed())};
  }
  if (path == "/v1/events") return events();
  return std::nullopt;
}

HttpResponse Dashboard::events() {
  {
    std::lock_guard lock(streams_->mutex);
    if (streams_->closed) {
      return {503, "application/json",
              dump(json{
                  {"ok", false},
                  {"error", {{"code", "unavailable"}, {"message", "the host is shutting down"}}}})};
    }
    if (streams_->open >= kMaxStreams) {
      return {503, "application/json",
              dump(json{
                  {"ok", false},
                  {"error",
                   {{"code", "unavailable"},
                    {"message", "too many dashboard streams open (" + std::to_string(kMaxStreams) +
                                    "): close a dashboard tab, or poll GET /v1/dashboard"}}}})};
    }
    ++streams_->open;
  }
  auto stream = std::make_shared<Stream>(*this, streams_);
  HttpResponse r{200, "text/event-stream", ""};
  // Connection: close: a stream's connection is never reused, so nothing waits out keep-alive.
  r.headers = {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}, {"Connection", "close"}};
  r.stream = [stream](const ChunkWriter& write) { return stream->next(write); };
  return r;
}

}  // namespace capsule::daemon

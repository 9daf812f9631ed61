#include "metrics_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>
#include <utility>

namespace capsule::daemon {

namespace {

using component::ActivationStats;
using component::ComponentRecord;

// A label value as the exposition format wants it: backslash, quote and newline escaped.
std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Shortest text that reads back as the same double (ostream's default keeps 6 digits).
std::string number(double value) {
  std::array<char, 32> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return {buffer.data(), result.ptr};
}

class Writer {
 public:
  using Labels = std::vector<std::pair<std::string_view, std::string>>;

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, const Labels& labels, std::string_view value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i > 0) out_ += ',';
        out_ += labels[i].first;
        out_ += "=\"";
        out_ += escape_label(labels[i].second);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void sample(std::string_view name, const Labels& labels, std::uint64_t value) {
    sample(name, labels, std::string_view(std::to_string(value)));
  }
  // A family of one unlabelled series.
  void single(std::string_view name, std::string_view type, std::string_view help,
              std::uint64_t value) {
    family(name, type, help);
    sample(name, {}, value);
  }
  [[nodiscard]] std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

void write_instances(Writer& w, const std::vector<ComponentRecord>& records,
                     std::uint64_t default_memory) {
  auto per_instance = [&](std::string_view name, std::string_view type, std::string_view help,
                          auto value) {
    w.family(name, type, help);
    for (const auto& r : records) {
      w.sample(name,
               {{"component", r.id.ns + "/" + r.id.name}, {"component_instance", r.id.to_string()}},
               static_cast<std::uint64_t>(value(r)));
    }
  };
  auto counter = [](const ComponentRecord& r, auto field) -> std::uint64_t {
    return r.counters ? (r.counters.get()->*field).load() : 0;
  };
  using component::InstanceCounters;
  per_instance("capsule_instance_up", "gauge", "1 if the instance's actor is running.",
               [](const ComponentRecord& r) { return r.ref.alive() ? 1 : 0; });
  per_instance("capsule_instance_mailbox_depth", "gauge", "Messages waiting in the mailbox.",
               [](const ComponentRecord& r) { return r.ref.mailbox_stats().depth(); });
  per_instance("capsule_instance_mailbox_depth_max", "gauge",
               "Most messages the mailbox has held at once (its high-water mark).",
               [](const ComponentRecord& r) { return r.ref.mailbox_stats().high_water_mark; });
  per_instance("capsule_instance_messages_enqueued_total", "counter",
               "Messages and requests put in the mailbox (dropped ones included).",
               [](const ComponentRecord& r) { return r.ref.mailbox_stats().enqueued; });
  per_instance("capsule_instance_messages_total", "counter",
               "Messages and requests taken from the mailbox and handled.",
               [](const ComponentRecord& r) { return r.ref.mailbox_stats().processed; });
  per_instance("capsule_instance_dropped_total", "counter",
               "Messages dropped by a drop-newest or drop-oldest mailbox.",
               [](const ComponentRecord& r) { return r.ref.mailbox_stats().dropped; });
  per_instance("capsule_instance_calls_total", "counter",
               "Guest calls completed (message, request and callback handlers).",
               [&](const ComponentRecord& r) { return counter(r, &InstanceCounters::calls); });
  per_instance("capsule_instance_restarts_total", "counter",
               "Restarts and upgrades of the instance.", [&](const ComponentRecord& r) {
                 const auto starts = counter(r, &InstanceCounters::starts);
                 return starts > 0 ? starts - 1 : 0;
               });
  per_instance("capsule_instance_fuel_consumed_total", "counter",
               "Wasm fuel consumed by the instance's calls.", [&](const ComponentRecord& r) {
                 return counter(r, &InstanceCounters::fuel_consumed);
               });
  per_instance("capsule_instance_memory_limit_bytes", "gauge",
               "Linear memory limit of the instance.", [&](const ComponentRecord& r) {
                 return r.limits.memory_bytes != 0 ? r.limits.memory_bytes : default_memory;
               });
}

void write_requests(Writer& w, const component::CorrelationStats& c,
                    const component::LatencyHistogram& h) {
  w.single("capsule_requests_started_total", "counter", "Requests started (calls and asks).",
           c.started);
  w.family("capsule_requests_total", "counter", "Requests that ended, by outcome.");
  w.sample("capsule_requests_total", {{"outcome", "replied"}}, c.replied);
  w.sample("capsule_requests_total", {{"outcome", "timed_out"}}, c.timed_out);
  w.sample("capsule_requests_total", {{"outcome", "cancelled"}}, c.cancelled);
  w.sample("capsule_requests_total", {{"outcome", "failed"}}, c.failed);
  w.single("capsule_requests_pending", "gauge", "Requests awaiting an outcome.", c.pending);
  w.single("capsule_late_replies_total", "counter",
           "Replies that arrived after their request had ended.", c.late_replies);
  const char* histogram = "capsule_request_duration_seconds";
  w.family(histogram, "histogram", "Request latency from send to outcome.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < component::kLatencyBucketsSeconds.size(); ++i) {
    cumulative += h.counts.at(i);
    w.sample("capsule_request_duration_seconds_bucket",
             {{"le", number(component::kLatencyBucketsSeconds.at(i))}}, cumulative);
  }
  w.sample("capsule_request_duration_seconds_bucket", {{"le", "+Inf"}}, h.count);
  w.sample("capsule_request_duration_seconds_sum", {}, number(h.sum_seconds));
  w.sample("capsule_request_duration_seconds_count", {}, h.count);
}

void write_runtime(Writer& w, const MetricsSnapshot& s, const RuntimeCounters& r) {
  w.single("capsule_actors", "gauge", "Actors alive in the host's runtime.", s.actors);
  w.single("capsule_failures_total", "counter",
           "Component failures (traps, limits) handled by supervisors.", r.failures.load());
  w.single("capsule_restart_limit_exceeded_total", "counter", "Supervisors that gave up.",
           r.gave_up.load());
  w.single("capsule_health_check_failures_total", "counter",
           "Instances a supervisor found unresponsive.", r.health_check_failures.load());
  w.single("capsule_failed_messages_total", "counter",
           "Fire-and-forget messages whose handling failed.", s.failed_messages);
  w.single("capsule_mailbox_backpressure_total", "counter",
           "Sends a full bounded mailbox refused (error policy, block timed out) or made wait.",
           r.backpressure.load());
  w.family("capsule_dead_letters_total", "counter",
           "Messages that reached no one, by reason (gone or stopping actor, full mailbox, "
           "topic without subscribers, unbound name).");
  for (std::size_t i = 0; i < r.dead_letters.size(); ++i) {
    const auto reason = static_cast<rt::DeadLetterReason>(i);
    w.sample("capsule_dead_letters_total", {{"reason", std::string(rt::to_string(reason))}},
             r.dead_letters.at(i).load());
  }
}

void write_activations(Writer& w, const std::vector<ActivationStats>& activations) {
  auto per_on_demand = [&](std::string_view name, std::string_view type, std::string_view help,
                           auto value) {
    w.family(name, type, help);
    for (const auto& a : activations) {
      w.sample(name, {{"component", a.component}}, static_cast<std::uint64_t>(value(a)));
    }
  };
  per_on_demand("capsule_activations_active", "gauge",
                "Names of an on-demand component active now.",
                [](const ActivationStats& a) { return a.active; });
  per_on_demand("capsule_activations_waiting", "gauge", "Names waiting for an activation slot.",
                [](const ActivationStats& a) { return a.waiting; });
  per_on_demand("capsule_activations_total", "counter", "Activations started.",
                [](const ActivationStats& a) { return a.activations; });
  per_on_demand("capsule_deactivations_total", "counter", "Activations retired (idle or evicted).",
                [](const ActivationStats& a) { return a.deactivations; });
  per_on_demand("capsule_activation_idle_retirements_total", "counter",
                "Activations retired after idle_timeout without a message.",
                [](const ActivationStats& a) { return a.idle_retirements; });
  per_on_demand("capsule_activation_evictions_total", "counter",
                "Activations retired to make room under max_active.",
                [](const ActivationStats& a) { return a.evictions; });
  per_on_demand("capsule_activation_failures_total", "counter", "Activations whose start failed.",
                [](const ActivationStats& a) { return a.failed_activations; });
  per_on_demand("capsule_activation_refused_claims_total", "counter",
                "Activations refused because another host of the cluster had the name active.",
                [](const ActivationStats& a) { return a.refused_claims; });
  per_on_demand("capsule_activation_fenced_writes_total", "counter",
                "Storage writes refused by a name's fence (another host claimed the name since); "
                "each deactivated its activation.",
                [](const ActivationStats& a) { return a.fenced_writes; });
}

void write_engine(Writer& w, const wasm::EngineStats& e) {
  w.single("capsule_engine_compiles_total", "counter", "Components compiled with Cranelift.",
           e.compiles);
  w.single("capsule_engine_cache_hits_total", "counter",
           "Components loaded precompiled from the cache.", e.cache_hits);
  w.single("capsule_engine_cache_misses_total", "counter",
           "Component loads that found no usable precompiled artifact.", e.cache_misses);
  w.single("capsule_engine_cache_write_failures_total", "counter",
           "Precompiled artifacts that could not be written to the cache.", e.cache_write_failures);
  w.single("capsule_engine_instances_created_total", "counter", "Component instances created.",
           e.instances_created);
}

void write_cluster(Writer& w, const MetricsSnapshot::Cluster& c) {
  const auto& s = c.stats;
  w.single("capsule_cluster_connected", "gauge", "1 while connected to the NATS server.",
           c.connected ? 1 : 0);
  w.single("capsule_cluster_peer_hosts", "gauge", "Other live hosts of the cluster.", c.peer_hosts);
  w.single("capsule_cluster_messages_sent_total", "counter",
           "Sends, requests, publishes and replies put on NATS.", s.sent);
  w.single("capsule_cluster_messages_received_total", "counter", "Messages taken from NATS.",
           s.received);
  w.single("capsule_cluster_replies_total", "counter",
           "Replies from other hosts handed to this host's requests (late ones included).",
           s.replies);
  w.single("capsule_cluster_requests_failed_by_host_loss_total", "counter",
           "Pending requests failed because their host died.", s.failed_by_host_loss);
  w.single("capsule_cluster_inbound_dropped_total", "counter",
           "Sends from other hosts the local target could not take.", s.inbound_dropped);
  w.single("capsule_cluster_malformed_messages_total", "counter", "Undecodable messages, ignored.",
           s.malformed);
  w.single("capsule_cluster_reconnects_total", "counter",
           "Reconnections to the NATS server after a lost connection.", s.reconnects);
  w.single("capsule_cluster_unmatched_replies_total", "counter",
           "Replies dropped: their id is not a request this host sent across.",
           s.unmatched_replies);
  w.single("capsule_cluster_mismatched_replies_total", "counter",
           "Replies dropped: the responder is not the request's target.", s.mismatched_replies);
  w.single("capsule_cluster_forged_messages_total", "counter",
           "Messages dropped for claiming another origin host or a sender it does not run.",
           s.forged);
  w.single("capsule_cluster_hosts_declared_dead_total", "counter",
           "Hosts this one declared dead for missing heartbeats.", s.hosts_declared_dead);
  w.single("capsule_cluster_oversized_publishes_total", "counter",
           "Publishes not sent to other hosts because they cannot fit in a NATS message.",
           s.oversized);
}

// The pools of the wasi:http/proxy routes: their instances by state, instantiations, failures.
void write_proxy_pools(Writer& w, const HttpTriggerSnapshot& s) {
  if (std::none_of(s.routes.begin(), s.routes.end(), [](const auto& r) { return r.pool; })) {
    return;  // no such route: no empty families
  }
  w.family("capsule_http_proxy_instances", "gauge",
           "Instances of a wasi:http/proxy route's pool, idle or busy (serving a request).");
  for (const auto& r : s.routes) {
    if (!r.pool) continue;
    w.sample("capsule_http_proxy_instances",
             {{"route", r.route}, {"name", r.pool->name}, {"state", "idle"}}, r.pool->idle);
    w.sample("capsule_http_proxy_instances",
             {{"route", r.route}, {"name", r.pool->name}, {"state", "busy"}}, r.pool->busy);
  }
  w.family("capsule_http_proxy_instantiations_total", "counter",
           "Instantiations of a wasi:http/proxy route's component (one per request without "
           "reuse).");
  for (const auto& r : s.routes) {
    if (!r.pool) continue;
    w.sample("capsule_http_proxy_instantiations_total",
             {{"route", r.route}, {"name", r.pool->name}}, r.pool->instantiated);
  }
  w.family("capsule_http_proxy_route_failed", "gauge",
           "1 when a wasi:http/proxy route gave up (its instances failed more often than its "
           "restart intensity allows) and answers 503 until `capsule restart`; 0 while it serves.");
  for (const auto& r : s.routes) {
    if (!r.pool) continue;
    w.sample("capsule_http_proxy_route_failed", {{"route", r.route}, {"name", r.pool->name}},
             r.pool->gave_up.empty() ? std::uint64_t{0} : std::uint64_t{1});
  }
  w.family("capsule_http_proxy_failed_instances_total", "counter",
           "wasi:http/proxy route instances dropped after a trap or a limit.");
  for (const auto& r : s.routes) {
    if (!r.pool) continue;
    w.sample("capsule_http_proxy_failed_instances_total",
             {{"route", r.route}, {"name", r.pool->name}}, r.pool->failed);
  }
}

// The HTTP trigger (docs/http.md "Metrics"): requests by route and status class, the handler
// latency of each route, and the connections.
void write_http(Writer& w, const HttpTriggerSnapshot& s) {
  w.single("capsule_http_connections", "gauge", "HTTP trigger connections being served.",
           s.connections);
  w.single("capsule_http_connections_refused_total", "counter",
           "HTTP trigger connections refused with 503 because max_connections were served.",
           s.refused_connections);
  w.family("capsule_http_requests_total", "counter",
           "HTTP trigger requests answered, by route (\"\": none matched or the request was "
           "malformed) and status class.");
  static constexpr std::array<std::string_view, 5> kClasses{"1xx", "2xx", "3xx", "4xx", "5xx"};
  for (const auto& r : s.routes) {
    for (std::size_t i = 0; i < kClasses.size(); ++i) {
      w.sample("capsule_http_requests_total",
               {{"route", r.route},
                {"component", r.component},
                {"status_class", std::string(kClasses.at(i))}},
               r.by_class.at(i));
    }
  }
  w.family("capsule_http_request_duration_seconds", "histogram",
           "HTTP trigger handler latency per route, from the request read whole to its answer.");
  for (const auto& r : s.routes) {
    if (r.route.empty()) continue;  // refused before any handler: no latency to report
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < component::kLatencyBucketsSeconds.size(); ++i) {
      cumulative += r.latency.counts.at(i);
      w.sample("capsule_http_request_duration_seconds_bucket",
               {{"route", r.route},
                {"component", r.component},
                {"le", number(component::kLatencyBucketsSeconds.at(i))}},
               cumulative);
    }
    w.sample("capsule_http_request_duration_seconds_bucket",
             {{"route", r.route}, {"component", r.component}, {"le", "+Inf"}}, r.latency.count);
    w.sample("capsule_http_request_duration_seconds_sum",
             {{"route", r.route}, {"component", r.component}}, number(r.latency.sum_seconds));
    w.sample("capsule_http_request_duration_seconds_count",
             {{"route", r.route}, {"component", r.component}}, r.latency.count);
  }
  write_proxy_pools(w, s);
}

}  // namespace

std::string render_metrics(const MetricsSnapshot& snapshot, const RuntimeCounters& counters) {
  Writer w;
  write_instances(w, snapshot.instances, snapshot.default_memory_limit_bytes);
  write_requests(w, snapshot.requests, snapshot.latency);
  write_runtime(w, snapshot, counters);
  write_activations(w, snapshot.activations);
  write_engine(w, snapshot.engine);
  if (snapshot.cluster) write_cluster(w, *snapshot.cluster);
  if (snapshot.http) write_http(w, *snapshot.http);
  return w.take();
}

}  // namespace capsule::daemon

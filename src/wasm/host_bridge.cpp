#include "host_bridge.hpp"

#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <capsule/core/limits.hpp>

#include "pending_completion.hpp"
#include "wit_error.hpp"

namespace capsule::wasm {
namespace {

HostApi& api(void* host) {
  return *static_cast<HostApi*>(host);
}

std::string text(capsule_bytes_t b) {
  return std::string(shim::view_of(b));
}

ComponentId id_from(const capsule_id_t& c) {
  return ComponentId{text(c.ns), text(c.name), text(c.instance)};
}

capsule_id_t id_view(const ComponentId& id) {
  return {shim::bytes_of(id.ns), shim::bytes_of(id.name), shim::bytes_of(id.instance)};
}

Payload payload_from(std::uint32_t codec, capsule_bytes_t b) {
  return Payload{codec, std::vector<std::uint8_t>(b.ptr, b.ptr + b.len)};
}

void answer_error(capsule_answer_t* out, const Error& e) {
  capsule_answer_error(out, wit::error_tag_of(e.code), shim::bytes_of(e.message));
}

void answer_status(capsule_answer_t* out, const Status& s) {
  if (!s) answer_error(out, s.error());
}

// A full `block` mailbox: the guest's send or request waits and asks again (backpressure),
// unlike every other refusal, which the guest sees as an error. True when that was the answer.
bool answer_would_block(capsule_answer_t* out, const Error& e) {
  if (e.code != ErrorCode::kWouldBlock) return false;
  capsule_answer_would_block(out);
  return true;
}

template <typename T>
void answer_number(capsule_answer_t* out, const Result<T>& r) {
  if (r) {
    capsule_answer_number(out, static_cast<std::uint64_t>(*r));
  } else {
    answer_error(out, r.error());
  }
}

// True (and the guest's answer set) when `size` is over the instance's payload limit.
bool oversize(void* h, std::size_t size, capsule_answer_t* out) {
  const std::uint64_t limit = api(h).max_payload_bytes();
  if (size <= limit) return false;
  answer_error(out, Error{ErrorCode::kInvalidArgument,
                          payload_too_large(size, limit, api(h).self_id().to_string())});
  return true;
}

// Runs one host entry; an exception becomes the guest's `internal` error instead of unwinding
// into Rust (undefined behaviour) or ending the process.
template <typename F>
void guarded(capsule_answer_t* out, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    if (out != nullptr) {
      answer_error(out, Error{ErrorCode::kInternal, std::string("host error: ") + e.what()});
    }
  } catch (...) {
    if (out != nullptr) answer_error(out, Error{ErrorCode::kInternal, "host error"});
  }
}

// -- messaging ----------------------------------------------------------------------------------

void send(void* h, const capsule_id_t* target, std::uint32_t codec, capsule_bytes_t payload,
          capsule_answer_t* out) {
  guarded(out, [&] {
    if (oversize(h, payload.len, out)) return;
    ComponentId to = id_from(*target);
    if (api(h).send_may_wait(to)) return capsule_answer_later(out);  // see send_later
    const Status s = api(h).send(to, payload_from(codec, payload));
    if (!s && answer_would_block(out, s.error())) return;
    answer_status(out, s);
  });
}

void request(void* h, const capsule_id_t* target, std::uint32_t codec, capsule_bytes_t payload,
             std::uint32_t timeout_ms, capsule_answer_t* out) {
  guarded(out, [&] {
    if (oversize(h, payload.len, out)) return;
    auto r = api(h).request(id_from(*target), payload_from(codec, payload), timeout_ms);
    if (!r && answer_would_block(out, r.error())) return;
    answer_number(out, r);
  });
}

void cancel(void* h, std::uint64_t correlation, capsule_answer_t* out) {
  guarded(out, [&] { answer_status(out, api(h).cancel(correlation)); });
}

void defer_reply(void* h, std::uint64_t correlation, capsule_answer_t* out) {
  guarded(out, [&] { answer_status(out, api(h).defer_reply(correlation)); });
}

void reply(void* h, std::uint64_t correlation, bool is_ok, std::uint32_t codec,
           capsule_bytes_t bytes, std::uint8_t error_tag, capsule_answer_t* out) {
  guarded(out, [&] {
    if (!is_ok) {
      Error e{wit::error_code_from_tag(error_tag), text(bytes)};
      answer_status(out, api(h).reply(correlation, std::move(e)));
      return;
    }
    if (oversize(h, bytes.len, out)) return;
    answer_status(out, api(h).reply(correlation, payload_from(codec, bytes)));
  });
}

void broadcast(void* h, const capsule_id_t* targets, std::size_t n, std::uint32_t codec,
               capsule_bytes_t payload, capsule_answer_t* out) {
  guarded(out, [&] {
    if (oversize(h, payload.len, out)) return;
    std::vector<ComponentId> ids;
    ids.reserve(n);
    for (std::size_t i = 0; i < n; ++i) ids.push_back(id_from(targets[i]));
    answer_number(out, api(h).broadcast(ids, payload_from(codec, payload)));
  });
}

void publish(void* h, capsule_bytes_t topic, std::uint32_t codec, capsule_bytes_t payload,
             capsule_answer_t* out) {
  guarded(out, [&] {
    if (oversize(h, payload.len, out)) return;
    answer_number(out, api(h).publish(text(topic), payload_from(codec, payload)));
  });
}

void subscribe(void* h, capsule_bytes_t topic, capsule_answer_t* out) {
  guarded(out, [&] { answer_status(out, api(h).subscribe(text(topic))); });
}

void unsubscribe(void* h, capsule_bytes_t topic, capsule_answer_t* out) {
  guarded(out, [&] { answer_status(out, api(h).unsubscribe(text(topic))); });
}

void self_id(void* h, capsule_answer_t* out) {
  guarded(out, [&] {
    const ComponentId id = api(h).self_id();
    const capsule_id_t view = id_view(id);
    capsule_answer_id(out, &view);
  });
}

// -- services -----------------------------------------------------------------------------------

void log(void* h, std::uint8_t level, capsule_bytes_t message, const capsule_kv_t* fields,
         std::size_t n) {
  guarded(nullptr, [&] {
    KeyValues kv;
    kv.reserve(n);
    for (std::size_t i = 0; i < n; ++i) kv.emplace_back(text(fields[i].key), text(fields[i].value));
    api(h).log(static_cast<LogLevel>(level), text(message), kv);
  });
}

std::uint64_t monotonic_now_ns(void* h) {
  try {
    return api(h).monotonic_now_ns();
  } catch (...) {
    return 0;
  }
}

bool random_allowed(void* h) {
  try {
    return api(h).random_allowed();
  } catch (...) {
    return false;
  }
}

void output(void* h, std::uint8_t stream, capsule_bytes_t line, bool cut) {
  guarded(nullptr, [&] {
    api(h).output(stream == 2 ? GuestStream::kStderr : GuestStream::kStdout, shim::view_of(line),
                  cut);
  });
}

std::uint64_t wall_clock_now_ms(void* h) {
  try {
    return api(h).wall_clock_now_ms();
  } catch (...) {
    return 0;
  }
}

void list_components(void* h, capsule_answer_t* out) {
  guarded(out, [&] {
    auto r = api(h).list_components();
    if (!r) return answer_error(out, r.error());
    for (const auto& id : *r) {
      const capsule_id_t view = id_view(id);
      capsule_answer_id(out, &view);
    }
  });
}

void metadata_of(void* h, const capsule_id_t* id, capsule_answer_t* out) {
  guarded(out, [&] {
    auto r = api(h).component_metadata(id_from(*id));
    if (!r) return answer_error(out, r.error());
    capsule_answer_metadata(out, shim::bytes_of(r->name), shim::bytes_of(r->version),
                            shim::bytes_of(r->description));
    for (const auto& [k, v] : r->labels) {
      capsule_answer_label(out, shim::bytes_of(k), shim::bytes_of(v));
    }
  });
}

// -- storage ------------------------------------------------------------------------------------

// Hands a pending answer to host code that completes it later (`start` passes `done` on to an
// outcome callback or a task). Completed exactly once whatever happens: by that callback, with
// `refusal` (unavailable) when `start` throws (even after it stored the callback), or by
// PendingCompletion's destructor - answering `cancelled` - when the host drops the callback
// uncalled.
template <typename Start>
void hand_over(capsule_pending_t* pending, std::string_view refusal, Start&& start) noexcept {
  std::shared_ptr<detail::PendingCompletion> done;
  const auto refuse = [refusal](capsule_answer_t* out) {
    guarded(out, [&] { answer_error(out, Error{ErrorCode::kUnavailable, std::string(refusal)}); });
  };
  try {
    done = std::make_shared<detail::PendingCompletion>(pending);
    std::forward<Start>(start)(done);
  } catch (...) {
    if (done) return done->complete(refuse);
    refuse(capsule_pending_answer(pending));  // not owned by a PendingCompletion yet
    capsule_pending_complete(pending);
  }
}

// Copies the inputs (their spans die with this call), hands the work to the host's blocking
// runner and completes the answer there.
template <typename Work>
void later(void* h, capsule_pending_t* pending, Work&& work) noexcept {
  hand_over(pending, "host I/O queue unavailable", [&](const auto& done) {
    api(h).run_blocking([done, work = std::forward<Work>(work)]() mutable {
      done->complete([&](capsule_answer_t* out) { guarded(out, [&] { work(out); }); });
    });
  });
}

void storage_get(void* h, capsule_bytes_t key, capsule_pending_t* done) {
  later(h, done, [h, key = text(key)](capsule_answer_t* out) {
    auto r = api(h).storage_get(key);
    if (!r) return answer_error(out, r.error());
    if (*r) capsule_answer_bytes(out, {(*r)->data(), (*r)->size()});
  });
}

void storage_set(void* h, capsule_bytes_t key, capsule_bytes_t value, capsule_pending_t* done) {
  if (oversize(h, value.len, capsule_pending_answer(done))) return capsule_pending_complete(done);
  later(h, done,
        [h, key = text(key), bytes = std::vector<std::uint8_t>(value.ptr, value.ptr + value.len)](
            capsule_answer_t* out) mutable {
          answer_status(out, api(h).storage_set(key, std::move(bytes)));
        });
}

void storage_delete(void* h, capsule_bytes_t key, capsule_pending_t* done) {
  later(h, done, [h, key = text(key)](capsule_answer_t* out) {
    answer_number(out, api(h).storage_delete(key));
  });
}

void storage_exists(void* h, capsule_bytes_t key, capsule_pending_t* done) {
  later(h, done, [h, key = text(key)](capsule_answer_t* out) {
    answer_number(out, api(h).storage_exists(key));
  });
}

void storage_list_keys(void* h, capsule_bytes_t prefix, capsule_pending_t* done) {
  later(h, done, [h, prefix = text(prefix)](capsule_answer_t* out) {
    auto r = api(h).storage_list_keys(prefix);
    if (!r) return answer_error(out, r.error());
    for (const auto& k : *r) capsule_answer_string(out, shim::bytes_of(k));
  });
}

void storage_usage(void* h, capsule_pending_t* done) {
  later(h, done, [h](capsule_answer_t* out) {
    auto r = api(h).storage_usage();
    if (!r) return answer_error(out, r.error());
    capsule_answer_usage(out, r->bytes, r->keys, r->quota_bytes, r->quota_keys);
  });
}

void storage_increment(void* h, capsule_bytes_t key, std::uint64_t delta, capsule_pending_t* done) {
  later(h, done, [h, key = text(key), delta](capsule_answer_t* out) {
    answer_number(out, api(h).storage_increment(key, delta));
  });
}

// -- config -------------------------------------------------------------------------------------

void config(void* h, capsule_answer_t* out) {
  guarded(out, [&] {
    for (const auto& [k, v] : api(h).config()) {
      capsule_answer_string(out, shim::bytes_of(k));
      capsule_answer_string(out, shim::bytes_of(v));
    }
  });
}

// -- sends that may wait on the wire
// ---------------------------------------------------------------

void send_later(void* h, const capsule_id_t* target, std::uint32_t codec, capsule_bytes_t payload,
                capsule_pending_t* pending) {
  hand_over(pending, "host could not start the send", [&](const auto& done) {
    // Completed by whoever learns the outcome (the cluster's acknowledgement, its deadline):
    // no thread waits for it.
    api(h).send_later(id_from(*target), payload_from(codec, payload), [done](const Status& s) {
      done->complete([&](capsule_answer_t* out) { guarded(out, [&] { answer_status(out, s); }); });
    });
  });
}

// messaging.send-batch: one host call for the whole list; the guest's call suspends until every
// message has its outcome (confirmations from other hosts are matched as they arrive).
void send_batch(void* h, const capsule_batch_entry_t* entries, std::size_t n,
                capsule_pending_t* pending) {
  hand_over(pending, "host could not start the batch", [&](const auto& done) {
    if (n > kMaxSendBatch) {
      const Error e = batch_too_large(n, api(h).self_id().to_string());
      return done->complete([&](capsule_answer_t* out) { answer_error(out, e); });
    }
    std::vector<OutgoingMessage> messages;
    messages.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      messages.push_back(OutgoingMessage{id_from(entries[i].target),
                                         payload_from(entries[i].codec, entries[i].payload)});
    }
    api(h).send_batch(std::move(messages), [done](const BatchOutcome& outcome) {
      done->complete([&](capsule_answer_t* out) {
        guarded(out, [&] {
          if (!outcome) return answer_error(out, outcome.error());
          for (const Status& s : *outcome) {
            if (s) {
              capsule_answer_outcome(out, true, 0, {});
            } else {
              capsule_answer_outcome(out, false, wit::error_tag_of(s.error().code),
                                     shim::bytes_of(s.error().message));
            }
          }
        });
      });
    });
  });
}

// messaging.call: the guest's call suspends until the outcome; no thread waits for it.
void call(void* h, const capsule_id_t* target, std::uint32_t codec, capsule_bytes_t payload,
          std::uint32_t timeout_ms, capsule_pending_t* pending) {
  hand_over(pending, "host could not start the call", [&](const auto& done) {
    if (oversize(h, payload.len, done->answer())) {
      return done->complete([](capsule_answer_t*) {});  // the refusal is written
    }
    api(h).call(id_from(*target), payload_from(codec, payload), timeout_ms,
                [done](const Result<Payload>& outcome) {
                  done->complete([&](capsule_answer_t* out) {
                    guarded(out, [&] {
                      if (!outcome) return answer_error(out, outcome.error());
                      capsule_answer_number(out, outcome->codec);
                      capsule_answer_bytes(out, {outcome->bytes.data(), outcome->bytes.size()});
                    });
                  });
                });
  });
}

constexpr capsule_host_vtable_t kVtable{
    send,
    request,
    cancel,
    broadcast,
    publish,
    subscribe,
    unsubscribe,
    self_id,
    log,
    monotonic_now_ns,
    wall_clock_now_ms,
    list_components,
    metadata_of,
    storage_get,
    storage_set,
    storage_delete,
    storage_exists,
    storage_list_keys,
    storage_usage,
    send_later,
    random_allowed,
    output,
    defer_reply,
    reply,
    storage_increment,
    config,
    send_batch,
    call,
};

}  // namespace

const capsule_host_vtable_t& host_vtable() noexcept {
  return kVtable;
}

}  // namespace capsule::wasm

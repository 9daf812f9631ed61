#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>

#include <capsule/core/text.hpp>
#include <capsule/wasm/guest_call.hpp>

#include "engine_internal.hpp"
#include "wit_error.hpp"

namespace capsule::wasm {
namespace {

using detail::ComponentInstanceImpl;
using detail::GuestCallImpl;
using detail::LifecycleExport;

// The reference-counted object behind one poll's capsule_waker_t: Rust (and tokio) keep clones of
// the waker after poll returns, so the C++ target must live as long as the last of them.
struct WakerRef {
  std::atomic<std::uint32_t> refs{1};
  std::shared_ptr<CallWaker> target;

  static void wake(void* p) { static_cast<WakerRef*>(p)->target->wake(); }
  static void retain(void* p) { static_cast<WakerRef*>(p)->refs.fetch_add(1); }
  static void release(void* p) {
    auto* self = static_cast<WakerRef*>(p);
    if (self->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      const std::unique_ptr<WakerRef> last(self);  // the last reference: free it
    }
  }
};

// A guest's error text goes to its requester and into logs: it is cut at this many bytes.
constexpr std::size_t kMaxGuestErrorBytes = 4096;

Error named_guest_error(const ComponentInstanceImpl& inst, LifecycleExport which, Error e) {
  e.message = "component " + inst.id.to_string() + " " + std::string(detail::call_site(which)) +
              " returned an error: " + cut_utf8_noted(e.message, kMaxGuestErrorBytes);
  return e;
}

// Reads the finished shim call into the instance's state: fuel used, and a failure that leaves
// the instance unusable.
void finish(GuestCallImpl& c) {
  c.done = true;
  ComponentInstanceImpl& inst = *c.inst;
  inst.call_in_flight = false;
  capsule_call_result(c.call.get(), &c.result);
  auto remaining = inst.store.context().get_fuel();
  const std::uint64_t used = remaining ? inst.limits.fuel_per_call - remaining.ok() : 0;
  inst.stats.calls++;
  inst.stats.fuel_consumed_last = used;
  inst.stats.fuel_consumed_total += used;
  if (c.result.status == shim::kStatusGuestError) {
    c.error = named_guest_error(inst, c.which,
                                Error{wit::error_code_from_tag(c.result.error_tag),
                                      std::string(shim::view_of(c.result.data))});
  } else if (c.result.status == shim::kStatusFailed) {
    const auto kind = static_cast<shim::Failure>(c.result.failure);
    Error e = detail::failure_error(inst, c.which, kind, shim::view_of(c.result.data));
    if (kind != shim::Failure::kInvalidInput) inst.failure = e;
    c.error = std::move(e);
  }
}

class BlockingWaker final : public CallWaker {
 public:
  void wake() noexcept override {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    cv_.notify_one();
  }
  void wait_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, deadline, [this] { return woken_; });
    woken_ = false;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
};

}  // namespace

namespace detail {

GuestCall start_call(ComponentInstanceImpl& inst, LifecycleExport which,
                     const std::function<capsule_call_t*(wasmtime_context_t*)>& make) {
  auto c = std::make_unique<GuestCallImpl>();
  c->inst = &inst;
  c->which = which;
  c->deadline = std::chrono::steady_clock::now() + inst.limits.wall_time_per_call;
  // A call that never reaches the guest: ready at once, with the reason.
  auto refused = [&c](Error why) {
    c->done = true;
    c->error = std::move(why);
    return GuestCall(std::move(c));
  };
  if (inst.failure) {
    return refused(Error{ErrorCode::kUnavailable,
                         "component " + inst.id.to_string() +
                             " cannot be called after an earlier failure (" +
                             std::string(to_string(inst.failure->code)) + "); restart it"});
  }
  if (inst.call_in_flight) {
    return refused(Error{ErrorCode::kUnavailable,
                         "component " + inst.id.to_string() + " is busy with another call"});
  }
  // A grow refused in an earlier call that the guest survived says nothing about this one.
  if (inst.limiter) (void)capsule_limiter_take_refused(inst.limiter.get());
  auto cx = inst.store.context();
  (void)cx.set_fuel(inst.limits.fuel_per_call);
  // Yield at every epoch tick: a guest that computes for long gives its thread back every tick,
  // and its owner checks the wall-time deadline when it resumes it.
  if (inst.stack) {
    // The store's callback yields; until it knows the store's stack it runs at the first
    // deadline, due at once (and then lets the call go on without yielding).
    cx.set_epoch_deadline(capsule_stack_known(inst.stack.get()) ? 1 : 0);
  } else {
    cx.set_epoch_deadline(1);
    wasmtime_context_epoch_deadline_async_yield_and_update(cx.capi(), 1);
  }
  c->call.reset(make(cx.capi()));
  if (!c->call) {
    return refused(Error{ErrorCode::kInternal, "the engine could not start " +
                                                   std::string(call_site(which)) + " of " +
                                                   inst.id.to_string()});
  }
  // The guest's imports reach this instance's HostApi while the call runs.
  capsule_call_set_host(c->call.get(), &host_vtable(), inst.host.get());
  inst.call_in_flight = true;
  return GuestCall(std::move(c));
}

}  // namespace detail

GuestCall::GuestCall(std::unique_ptr<GuestCallImpl> impl) : impl_(std::move(impl)) {}
GuestCall::GuestCall(GuestCall&&) noexcept = default;
GuestCall& GuestCall::operator=(GuestCall&&) noexcept = default;

GuestCall::~GuestCall() {
  if (impl_ && !impl_->done) {
    expire();
  }
}

GuestCall::State GuestCall::poll(const std::shared_ptr<CallWaker>& waker) {
  if (impl_->done) return State::kReady;
  auto owned = std::make_unique<WakerRef>();
  owned->target = waker;
  WakerRef* ref = owned.release();  // from here on reference-counted: freed by the last release
  const capsule_waker_t c_waker{ref, &WakerRef::wake, &WakerRef::retain, &WakerRef::release};
  const auto polled = capsule_call_poll(impl_->call.get(), impl_->inst->reactor.get(), &c_waker);
  WakerRef::release(ref);
  if (polled == shim::kPollPending) return State::kPending;
  finish(*impl_);
  return State::kReady;
}

bool GuestCall::ready() const noexcept {
  return impl_->done;
}

std::chrono::steady_clock::time_point GuestCall::deadline() const noexcept {
  return impl_->deadline;
}

void GuestCall::expire() {
  if (impl_->done) return;
  // Dropping the future unwinds the guest's suspended stack; the store is left mid-call, so the
  // instance is failed and its owner restarts it.
  impl_->call.reset();
  impl_->done = true;
  impl_->inst->call_in_flight = false;
  impl_->result.status = shim::kStatusFailed;
  Error e = detail::failure_error(*impl_->inst, impl_->which, shim::Failure::kInterrupt, "");
  impl_->inst->failure = e;
  impl_->error = std::move(e);
}

Result<std::optional<Payload>> GuestCall::reply() const {
  if (impl_->error) return *impl_->error;
  const auto& r = impl_->result;
  if (!r.has_payload) return std::optional<Payload>{};
  return std::optional<Payload>{
      Payload{r.codec, std::vector<std::uint8_t>(r.data.ptr, r.data.ptr + r.data.len)}};
}

Status GuestCall::status() const {
  if (impl_->error) return *impl_->error;
  return ok();
}

Result<HealthStatus> GuestCall::health() const {
  if (impl_->error) return *impl_->error;
  switch (impl_->result.health) {
    case 0:
      return HealthStatus::kHealthy;
    case 1:
      return HealthStatus::kDegraded;
    default:
      return HealthStatus::kUnhealthy;
  }
}

Result<ComponentMetadata> GuestCall::metadata() const {
  if (impl_->error) return *impl_->error;
  capsule_metadata_t m{};
  if (!capsule_call_metadata(impl_->call.get(), &m)) {
    return make_error(ErrorCode::kInternal, "metadata read from a call that is not metadata()");
  }
  ComponentMetadata out{std::string(shim::view_of(m.name)),
                        std::string(shim::view_of(m.version)),
                        std::string(shim::view_of(m.description)),
                        {}};
  for (std::size_t i = 0; i < m.label_count; ++i) {
    capsule_bytes_t k{};
    capsule_bytes_t v{};
    if (capsule_call_metadata_label(impl_->call.get(), i, &k, &v)) {
      out.labels.emplace_back(shim::view_of(k), shim::view_of(v));
    }
  }
  return out;
}

void run_to_completion(GuestCall& call) {
  auto waker = std::make_shared<BlockingWaker>();
  while (call.poll(waker) == GuestCall::State::kPending) {
    if (std::chrono::steady_clock::now() >= call.deadline()) {
      call.expire();
      return;
    }
    waker->wait_until(call.deadline());
  }
}

}  // namespace capsule::wasm

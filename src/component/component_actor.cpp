#include "component_actor.hpp"

#include <utility>

#include <capsule/rt/actor_system.hpp>
#include <capsule/rt/scheduler.hpp>

#include "activation_directory.hpp"
#include "component_host_api.hpp"

namespace capsule::component {
namespace {

// Wakes the actor that owns a suspended guest call.
class ActorWaker final : public wasm::CallWaker {
 public:
  explicit ActorWaker(rt::ResumeHandle handle) : handle_(std::move(handle)) {}
  void wake() noexcept override { handle_.resume(); }

 private:
  rt::ResumeHandle handle_;
};

}  // namespace

ComponentActor::ComponentActor(ComponentRuntime* runtime, std::shared_ptr<InstancePlan> plan)
    : runtime_(runtime), plan_(std::move(plan)) {}

Result<wasm::ComponentInstance> ComponentActor::instantiate(
    const wasm::CompiledComponent& component, rt::ActorContext<ComponentEnvelope>& ctx) {
  auto host = std::make_shared<host::ComponentHostApi>(
      *runtime_, plan_->id, ctx.self(), plan_->limits, plan_->serving, plan_->awaiting, deferred_,
      plan_->config,
      plan_->activation != nullptr ? std::optional(plan_->name_token) : std::nullopt);
  return runtime_->engine().instantiate(component, {plan_->id, plan_->limits, std::move(host)});
}

Status ComponentActor::pre_start(rt::ActorContext<ComponentEnvelope>& ctx) {
  waker_ = std::make_shared<ActorWaker>(ctx.resume_handle());
  auto instance = instantiate(*plan_->component.load(), ctx);
  if (!instance) return std::move(instance).error();
  instance_.emplace(std::move(*instance));
  plan_->counters->starts.fetch_add(1, std::memory_order_relaxed);
  if (plan_->activation) {
    // An activation is spawned on its first sender's thread, maybe a worker inside another
    // component's handler: init waits for this actor's own first turn. Activate travels the
    // control lane, ahead of every message already queued.
    return ctx.self().send_control(ComponentEnvelope{ComponentEnvelope::Activate{}});
  }
  // On the thread that starts the component (not a worker: ComponentRuntime::start's caller)
  // init and metadata run to completion, so a failure fails the start and the caller sees it.
  // A restart runs on a worker: there they are calls in flight, and a failure after a wait is
  // the instance's (its supervisor restarts it).
  ctx_ = &ctx;
  Status s = start_lifecycle(CallKind::kInit);
  release_when_idle();
  ctx_ = nullptr;
  if (s) link_peers(ctx);
  return s;
}

void ComponentActor::link_peers(rt::ActorContext<ComponentEnvelope>& ctx) {
  // Exits of linked instances come to on_signal, which decides what they mean for a component.
  ctx.trap_exits(true);
  // Every incarnation links afresh with the declared peers running now (the previous one's
  // links ended with it); a peer that starts later links with this one from its own pre_start.
  for (const auto& peer : runtime_->declared_peers(plan_->id)) ctx.link(peer);
}

Status ComponentActor::on_signal(const rt::Signal& signal, rt::ActorContext<ComponentEnvelope>&) {
  if (signal.kind != rt::Signal::Kind::kExit) return ok();
  // A peer that ended in order (it stopped by itself, the operator or the host's shutdown stopped
  // it, or its group suspended it to restart a sibling) does not take this one down: only a
  // failure does. OTP would treat `shutdown` as abnormal; see docs/runtime.md ("Links").
  if (signal.reason == rt::ExitReason::kNormal || signal.reason == rt::ExitReason::kShutdown) {
    return ok();
  }
  std::string text = "linked component " + runtime_->describe(signal.from);
  switch (signal.reason) {
    case rt::ExitReason::kNoProc:
      text += " is not running (noproc)";
      break;
    case rt::ExitReason::kKilled:
      text += " was killed";
      break;
    default:
      text += " failed";
      break;
  }
  if (signal.error) {
    // Its first line: the cause. Over a chain of links each hop adds its own prefix.
    const std::string cause = signal.error->describe();
    text += ": " + cause.substr(0, cause.find('\n'));
  }
  // Fails this instance: on_error logs it and its supervisor restarts it. Its own links then
  // carry the failure on (transitively), and the peer that failed first is not linked any more.
  return make_error(ErrorCode::kUnavailable, std::move(text));
}

Status ComponentActor::start_lifecycle(CallKind kind) {
  in_flight_ = std::make_unique<InFlight>();
  in_flight_->kind = kind;
  in_flight_->call.emplace(kind == CallKind::kInit ? instance_->start_init(plan_->config)
                                                   : instance_->start_metadata());
  if (!rt::Scheduler::on_worker_thread()) wasm::run_to_completion(*in_flight_->call);
  return drive();
}

Status ComponentActor::finish_lifecycle(InFlight& done) {
  if (done.kind == CallKind::kInit) {
    if (Status s = done.call->status(); !s) return fail_activation(std::move(s).error());
    // Every name of an on-demand component is the same component: the first activation asked
    // it for its metadata (and so checked it answers); the others skip that guest call.
    if (plan_->activation && plan_->activation->has_metadata()) return ok();
    return start_lifecycle(CallKind::kMetadata);
  }
  // A component that cannot say what it is does not start: a trapping or lying metadata() is
  // a broken component, not one with no metadata.
  auto meta = done.call->metadata();
  if (!meta) return fail_activation(std::move(meta).error());
  if (plan_->activation) {
    plan_->activation->set_metadata(*meta);
  } else {
    runtime_->registry().set_metadata(plan_->id, *meta);
  }
  return ok();
}

Status ComponentActor::fail_activation(Error error) {
  if (!plan_->activation) return error;
  // Not a failure of the actor: a restart would run the same init on the same queue, forever.
  // It refuses what it has queued with this error and retires; the name's next message tries a
  // fresh activation.
  runtime_->log(ComponentId{plan_->id.ns, plan_->id.name, "*"}, wasm::LogLevel::kError,
                "activation failed: " + error.describe(), {{"instance", plan_->id.instance}});
  init_failure_ = std::move(error);
  plan_->activation->activation_failed(plan_->id.instance);
  return ok();
}

void ComponentActor::refuse_uninitialised(const ComponentMessage& message) {
  if (!message.correlation) {
    runtime_->count_failed_message();  // the failure itself was logged once
    return;
  }
  Error e = *init_failure_;
  e.message = "activation of " + plan_->id.to_string() + " failed: " + e.message;
  runtime_->complete_request(*message.correlation, plan_->id, std::move(e));
}

void ComponentActor::retire_when_quiet() {
  if (!plan_->retire_asked || in_flight_ || plan_->awaiting->load(std::memory_order_acquire) != 0) {
    return;
  }
  if (!instance_ || instance_->failed()) {
    retired_ = true;
    ctx_->stop();  // post_stop tells the directory
    return;
  }
  // Activations retire by the thousand under eviction pressure: their shutdown must not hold
  // workers either.
  start_shutdown(CallKind::kShutdown);
}

void ComponentActor::start_shutdown(CallKind kind) {
  // The guest's shutdown runs as a call in flight, not in post_stop: a guest that waits in it
  // (bounded by its wall-time limit) must not hold a worker.
  in_flight_ = std::make_unique<InFlight>();
  in_flight_->kind = kind;
  in_flight_->call.emplace(instance_->start_shutdown());
  static_cast<void>(drive());
}

Status ComponentActor::handle(ComponentEnvelope& envelope,
                              rt::ActorContext<ComponentEnvelope>& ctx) {
  ctx_ = &ctx;
  Status s = ok();
  if (auto* d = std::get_if<ComponentEnvelope::Deliver>(&envelope.body)) {
    if (init_failure_) {
      refuse_uninitialised(d->message);
    } else if (plan_->serving && !plan_->serving->is_open()) {
      refuse_unserved(d->message);
    } else {
      s = start_message(d->message);
    }
  } else if (auto* c = std::get_if<ComponentEnvelope::Callback>(&envelope.body)) {
    // One request of its own ended; its outcome is here, so a retiring activation may go after.
    plan_->awaiting->fetch_sub(1, std::memory_order_acq_rel);
    s = start_callback(c->response);
  } else if (auto* u = std::get_if<ComponentEnvelope::Upgrade>(&envelope.body)) {
    s = upgrade(std::move(*u));
  } else if (std::holds_alternative<ComponentEnvelope::Activate>(envelope.body)) {
    s = start_lifecycle(CallKind::kInit);
  } else {  // Retire
    plan_->retire_asked = true;
    retire_when_quiet();
  }
  shut_down_when_drained();
  release_when_idle();
  ctx_ = nullptr;
  return s;
}

Status ComponentActor::on_resume(rt::ActorContext<ComponentEnvelope>& ctx) {
  if (!in_flight_) return ok();  // a late wake of a call that already finished
  ctx_ = &ctx;
  Status s = drive();
  shut_down_when_drained();
  release_when_idle();
  ctx_ = nullptr;
  return s;
}

void ComponentActor::on_stopping(rt::ActorContext<ComponentEnvelope>& ctx) {
  stopping_ = true;
  ctx_ = &ctx;
  shut_down_when_drained();
  ctx_ = nullptr;
}

void ComponentActor::shut_down_when_drained() {
  if (!stopping_ || shut_down_ || in_flight_ || !instance_ || instance_->failed()) return;
  if (ctx_->mailbox_stats().depth() != 0) return;  // queued messages run first
  // The stop waits for this call (the actor awaits its resume); past the stop's timeout the
  // actor is killed and post_stop drops the call.
  start_shutdown(CallKind::kStopShutdown);
}

void ComponentActor::release_when_idle() {
  // Idle: no call in flight and none queued. Most instances of a large host sit idle; each
  // would otherwise keep the stack pages its last call touched (docs/engine.md, "Memory of an
  // idle instance"). A queued message would touch them again at once, and so would the next
  // call of a busy instance: one called again within kHotGap keeps its pages (a madvise and a
  // page fault per call cost a busy request/reply pair ~4x its round trip in component_bench).
  // Its pages go after its first call past that gap.
  constexpr auto kHotGap = std::chrono::milliseconds(100);
  if (in_flight_ || !instance_ || instance_->failed() || ctx_->mailbox_stats().depth() != 0) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const bool busy = now - last_idle_ < kHotGap;
  last_idle_ = now;
  if (!busy) static_cast<void>(instance_->release_idle_stack());
}

void ComponentActor::refuse_unserved(const ComponentMessage& message) {
  Error e = make_error(ErrorCode::kUnavailable,
                       plan_->id.to_string() +
                           " is not served here now: this host's lease on it lapsed or went to "
                           "another host (the message was not handled; retry)");
  if (message.correlation) {
    runtime_->complete_request(*message.correlation, plan_->id, std::move(e));
  } else {
    runtime_->count_failed_message();
  }
}

Status ComponentActor::start_message(ComponentMessage& message) {
  in_flight_ = std::make_unique<InFlight>();
  in_flight_->message = std::move(message);
  deferred_->begin_handling(in_flight_->message.correlation);
  in_flight_->call.emplace(instance_->start_handle_message(in_flight_->message));
  return drive();
}

Status ComponentActor::start_callback(CallbackResponse& response) {
  in_flight_ = std::make_unique<InFlight>();
  in_flight_->kind = CallKind::kCallback;
  in_flight_->response = std::move(response);
  in_flight_->call.emplace(instance_->start_handle_callback(in_flight_->response));
  return drive();
}

// Runs the call in flight until it finishes or waits. Waiting: the actor awaits a resume from
// the guest's waker or from the wall-time timer, whichever comes first; past the deadline the
// call is expired (the guest's stack dropped) and the instance fails.
Status ComponentActor::drive() {
  InFlight& f = *in_flight_;
  const auto state = f.call->poll(waker_);
  // The guest's turn ended or paused: sends it made for other hosts leave now.
  runtime_->end_turn();
  if (state == wasm::GuestCall::State::kPending) {
    const auto now = std::chrono::steady_clock::now();
    if (now < f.call->deadline()) {
      ctx_->await_resume();
      if (!f.deadline_timer.pending()) {
        f.deadline_timer = ctx_->system().run_after(
            f.call->deadline() - now, [handle = ctx_->resume_handle()] { handle.resume(); });
      }
      return ok();
    }
    f.call->expire();
  }
  f.deadline_timer.cancel();
  auto done = std::move(in_flight_);
  switch (done->kind) {
    case CallKind::kInit:
    case CallKind::kMetadata:
      return finish_lifecycle(*done);
    case CallKind::kMessage: {
      Status s = finish_message(*done);
      account();
      return s;
    }
    case CallKind::kUpgradeInit:
    case CallKind::kUpgradeMetadata:
    case CallKind::kUpgradeShutdown:
      return finish_upgrade(*done);
    case CallKind::kShutdown:
      // Whatever shutdown answered, the activation ends now; the instance is not asked again.
      shut_down_ = true;
      retired_ = true;
      ctx_->stop();  // post_stop tells the directory
      return ok();
    case CallKind::kHealth:
      return finish_health(*done);
    case CallKind::kStopShutdown:
      // Whatever shutdown answered, it ran: post_stop does not ask again. Not awaiting any
      // more, the incarnation ends.
      shut_down_ = true;
      return ok();
    case CallKind::kCallback:
      break;
  }
  Status s = finish_callback(*done);
  account();
  if (s) retire_when_quiet();
  return s;
}

void ComponentActor::account() {
  if (!instance_) return;
  const auto stats = instance_->stats();
  plan_->counters->calls.fetch_add(1, std::memory_order_relaxed);
  plan_->counters->fuel_consumed.fetch_add(stats.fuel_consumed_last, std::memory_order_relaxed);
}

Status ComponentActor::finish_message(InFlight& done) {
  ComponentMessage& message = done.message;
  auto outcome = done.call->reply();
  if (outcome && *outcome) {
    // A reply is a payload the guest hands the host like any other: same limit.
    const std::uint64_t limit = runtime_->max_payload_bytes(plan_->limits);
    if (const std::uint64_t size = (*outcome)->bytes.size(); size > limit) {
      outcome = make_error(ErrorCode::kInvalidArgument,
                           "reply " + payload_too_large(size, limit, plan_->id.to_string()));
    }
  }
  const bool failed = instance_->failed();
  std::optional<Error> failure;
  if (!outcome && failed) failure = outcome.error();
  if (finish_deferred(message, outcome)) {
    // Answered (or to be answered) through messaging.reply; a failure above still counts.
  } else if (message.correlation) {
    // The reply (or the reason there is none) goes back to the requester in every case.
    runtime_->complete_request(*message.correlation, plan_->id, std::move(outcome));
  } else if (!outcome) {
    runtime_->count_failed_message();
    // A failure of the instance itself is logged once, by on_error; here only guest errors.
    if (!failure) {
      runtime_->log(
          plan_->id, wasm::LogLevel::kWarn,
          "message from " + message.sender.to_string() + " failed: " + outcome.error().describe(),
          {});
    }
  }
  // A trap or limit leaves the instance unusable: fail, so the supervisor restarts it. A guest
  // that merely returned an error keeps running.
  if (failure) return *failure;
  return ok();
}

bool ComponentActor::finish_deferred(const ComponentMessage& message,
                                     Result<std::optional<Payload>>& outcome) {
  if (!deferred_->end_handling()) return false;
  const CorrelationId correlation = *message.correlation;
  if (outcome) {
    if (*outcome) {
      runtime_->log(plan_->id, wasm::LogLevel::kWarn,
                    "handle-message returned a reply to request " + std::to_string(correlation) +
                        " after deferring it: ignored (its answer is the one given to "
                        "messaging.reply)",
                    {});
    }
    return true;
  }
  // The handler failed after deferring: the request fails now, unless the guest already
  // answered it through messaging.reply during this turn.
  if (deferred_->erase(correlation)) {
    runtime_->complete_request(correlation, plan_->id, std::move(outcome));
  }
  return true;
}

void ComponentActor::fail_deferred() {
  for (const CorrelationId correlation : deferred_->take_all()) {
    runtime_->complete_request(
        correlation, plan_->id,
        make_error(ErrorCode::kCancelled,
                   "component " + plan_->id.to_string() + " stopped before answering request " +
                       std::to_string(correlation) +
                       ", which it had deferred (restarted, stopped or retired): no reply will "
                       "come"));
  }
}

Status ComponentActor::finish_callback(InFlight& done) {
  Status s = done.call->status();
  if (!s && instance_->failed()) return s;
  if (!s) runtime_->log(plan_->id, wasm::LogLevel::kWarn, s.error().describe(), {});
  return ok();
}

void ComponentActor::post_stop(rt::ActorContext<ComponentEnvelope>&) {
  if (in_flight_) {
    // Killed or restarted while a call waited: the requester still gets exactly one outcome.
    in_flight_->deadline_timer.cancel();
    if (in_flight_->upgrade) {
      in_flight_->call.reset();
      report_upgrade(*in_flight_->upgrade,
                     make_error(ErrorCode::kCancelled, "component " + plan_->id.to_string() +
                                                           " stopped during the upgrade"));
    }
    if (in_flight_->kind == CallKind::kHealth) {
      in_flight_->health_reply.send(HealthStatus::kUnhealthy);
    }
    if (in_flight_->kind == CallKind::kMessage && in_flight_->message.correlation) {
      // Answered here whether or not the guest deferred it before it was stopped.
      static_cast<void>(deferred_->erase(*in_flight_->message.correlation));
      runtime_->complete_request(
          *in_flight_->message.correlation, plan_->id,
          make_error(ErrorCode::kCancelled,
                     "component " + plan_->id.to_string() + " stopped while handling the request"));
    }
    in_flight_.reset();  // drops the guest's suspended call; the instance is then failed
  }
  if (instance_ && !instance_->failed() && !shut_down_) static_cast<void>(instance_->shutdown());
  // After shutdown, which may still answer what it deferred.
  fail_deferred();
  if (retired_) plan_->activation->retired(plan_->id.instance);
}

rt::ErrorAction ComponentActor::on_error(const Error& error, rt::ActorContext<ComponentEnvelope>&) {
  // The first line names the cause; the Wasm backtrace after it stays in the error itself.
  const std::string text = error.describe();
  const std::string first_line = text.substr(0, text.find('\n'));
  if (plan_->activation) {
    // Unsupervised: the runtime rebuilds it in place (fresh instance, init again) for the
    // messages still queued, as Orleans re-activates a grain after a failure.
    runtime_->log(plan_->id, wasm::LogLevel::kError, first_line + "; activation rebuilt", {});
    return rt::ErrorAction::kRestart;
  }
  runtime_->log(plan_->id, wasm::LogLevel::kError, first_line + "; restart requested", {});
  return rt::ErrorAction::kRestart;
}

Status ComponentActor::check_health(rt::HealthReply reply,
                                    rt::ActorContext<ComponentEnvelope>& ctx) {
  if (!instance_ || instance_->failed()) {
    reply.send(HealthStatus::kUnhealthy);
    return ok();
  }
  // Busy with a call (a suspended handler, init, an upgrade step): the guest cannot be asked
  // now, and busy is not sick.
  if (in_flight_ || instance_->busy()) {
    reply.send(HealthStatus::kHealthy);
    return ok();
  }
  ctx_ = &ctx;
  in_flight_ = std::make_unique<InFlight>();
  in_flight_->kind = CallKind::kHealth;
  in_flight_->health_reply = std::move(reply);
  in_flight_->call.emplace(instance_->start_health());
  Status s = drive();
  ctx_ = nullptr;
  // A health export that trapped failed the instance: the probe was answered (unhealthy), and
  // the failure restarts it like a trap in a handler would.
  return s;
}

Status ComponentActor::finish_health(InFlight& done) {
  auto h = done.call->health();
  done.health_reply.send(h ? *h : HealthStatus::kUnhealthy);
  if (!h && instance_->failed()) return std::move(h).error();
  return ok();
}

}  // namespace capsule::component

#pragma once

#include <cstdint>

// Forward declarations of the actor runtime's public types, to keep includes light.
namespace capsule::rt {

using ActorId = std::uint64_t;

template <typename Msg>
class Actor;
template <typename Msg>
class ActorContext;
template <typename Msg>
class ActorRef;
class ActorAddress;
class ActorSystem;
class ActorRegistry;
class Scheduler;
template <typename Msg>
class Mailbox;
template <typename Msg>
class MessageBroker;
class SupervisorNode;
class SupervisorRef;
class TimerHandle;
class ResumeHandle;
class Observer;
class InMemoryRecorder;
struct MonitoringEvent;
struct DeadLetter;
struct Signal;
struct SpawnOptions;
struct SystemConfig;
struct MailboxConfig;
struct ChildSpec;
struct SupervisorConfig;

namespace detail {
class ActorCellBase;
template <typename Msg>
class ActorCell;
class Telemetry;
}  // namespace detail

}  // namespace capsule::rt

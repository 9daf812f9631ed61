#pragma once

// Everything of the actor runtime in one include.
#include <capsule/rt/actor.hpp>
#include <capsule/rt/actor_address.hpp>
#include <capsule/rt/actor_context.hpp>
#include <capsule/rt/actor_ref.hpp>
#include <capsule/rt/actor_registry.hpp>
#include <capsule/rt/actor_system.hpp>
#include <capsule/rt/dead_letters.hpp>
#include <capsule/rt/mailbox.hpp>
#include <capsule/rt/message_broker.hpp>
#include <capsule/rt/monitoring.hpp>
#include <capsule/rt/reply.hpp>
#include <capsule/rt/resume_handle.hpp>
#include <capsule/rt/scheduler.hpp>
#include <capsule/rt/signal.hpp>
#include <capsule/rt/supervisor.hpp>
#include <capsule/rt/timer.hpp>

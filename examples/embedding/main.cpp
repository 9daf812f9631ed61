// embed-echo: the smallest C++ program that hosts capsule components. It starts an engine, an
// actor system and a component runtime, runs one component as a supervised actor, sends it a
// message, prints the reply and shuts down. Walked through in docs/embedding.md.
//   usage: embed-echo <component.wasm> <message>
#include <chrono>
#include <cstdio>
#include <string>

#include <capsule/component/component_runtime.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <component.wasm> <message>\n", argv[0]);
    return 2;
  }
  using namespace capsule;

  // 1. The engine compiles and instantiates components (Wasmtime). One per process: it owns the
  //    pooling allocator's slots, here sized for a few instances.
  wasm::EngineConfig engine_config;
  engine_config.pooling.total_component_instances = 8;
  engine_config.pooling.total_memories = 8;
  engine_config.pooling.total_tables = 8;
  auto engine = wasm::WasmEngine::create(engine_config);
  if (!engine) {
    std::fprintf(stderr, "engine: %s\n", engine.error().describe().c_str());
    return 1;
  }

  // 2. The actor system (scheduler threads, supervisors) and the component layer on top of it.
  //    Declared in this order, the runtime is destroyed first: it stops its components.
  rt::ActorSystem system;
  component::ComponentRuntime runtime(system, *engine);

  // 3. Load the component and start one supervised instance of it: demo/echo/0.
  auto compiled = (*engine)->load_file(argv[1]);
  if (!compiled) {
    std::fprintf(stderr, "load: %s\n", compiled.error().describe().c_str());
    return 1;
  }
  component::ComponentSpec spec;
  spec.ns = "demo";
  spec.name = "echo";
  spec.component = *compiled;
  auto ids = runtime.start(spec);
  if (!ids) {
    std::fprintf(stderr, "start: %s\n", ids.error().describe().c_str());
    return 1;
  }

  // 4. Ask it: the message goes through its mailbox to its handle-message export, and its reply
  //    (or the error: a trap, a limit, the timeout) comes back here.
  auto reply = runtime.call(ids->front(), Payload::text(argv[2]), std::chrono::seconds(10));
  if (!reply) {
    std::fprintf(stderr, "call: %s\n", reply.error().describe().c_str());
    return 1;
  }
  std::printf("%s replied: %s\n", ids->front().to_string().c_str(), reply->as_string().c_str());
  return 0;
}

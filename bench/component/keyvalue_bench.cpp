// wasi:keyvalue against capsule:core storage, per call, on the same backend in the same run: one
// component (guest/examples/wasi_kv.c) makes N storage calls in one handler turn through either
// interface, on real SQLite (and an in-memory SQLite, which leaves mostly the host's own path:
// the guest's suspension, the I/O thread hop, the checks). Alternating rounds, medians.
// Usage: keyvalue_bench <components dir>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

#include <capsule/component/component_runtime.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>

#include "../common/bench_process.hpp"
#include "../common/bench_util.hpp"

namespace {

using namespace capsule;
using namespace capsule::component;
using bench::Clock;
using bench::or_die;

constexpr int kCallsPerTurn = 2000;
constexpr int kRounds = 9;

// Microseconds per storage call of one `loop` command.
double per_call_us(ComponentRuntime& runtime, const ComponentId& id, const std::string& api,
                   const std::string& op) {
  const std::string command = "loop " + api + " " + op + " " + std::to_string(kCallsPerTurn);
  const auto t0 = Clock::now();
  auto r = runtime.call(id, Payload::text(command), std::chrono::seconds(120));
  const double took = bench::us(Clock::now() - t0);
  if (!r || r->as_string() != "ok=" + std::to_string(kCallsPerTurn)) {
    std::fprintf(stderr, "%s failed: %s\n", command.c_str(),
                 r ? r->as_string().c_str() : r.error().describe().c_str());
    std::exit(1);
  }
  return took / kCallsPerTurn;
}

void run(const char* backend, const std::shared_ptr<storage::KvBackend>& kv,
         const std::filesystem::path& dir) {
  auto engine = or_die(wasm::WasmEngine::create(), "engine");
  RuntimeConfig rc;
  rc.storage = kv;
  rt::ActorSystem system;
  auto runtime = std::make_unique<ComponentRuntime>(system, engine, rc);
  ComponentSpec spec;
  spec.ns = "bench";
  spec.name = "kv";
  spec.component = or_die(engine->load_file(dir / "wasi_kv.wasm"), "load wasi_kv.wasm");
  const auto ids = or_die(runtime->start(spec), "start bench/kv");
  const ComponentId& id = ids.front();
  per_call_us(*runtime, id, "core", "set");  // the key exists for the gets; warm-up
  for (const char* op : {"set", "get"}) {
    auto [wasi, core] = bench::alternate_medians(
        kRounds, [&] { return per_call_us(*runtime, id, "wasi", op); },
        [&] { return per_call_us(*runtime, id, "core", op); });
    const std::string what = std::string("wasi:keyvalue ") + op + " (" + backend + ")";
    bench::print_ratio_row(40, what.c_str(), wasi, core, "us", "capsule:core storage");
  }
  runtime.reset();
  system.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  const auto dir = bench::components_dir(argc, argv);
  if (!dir) return 2;
  std::printf("%-40s %12s %-6s %12s %-6s %8s\n", "per storage call, one guest turn of 2000", "wasi",
              "", "core", "", "ratio");
  const auto db = std::filesystem::temp_directory_path() /
                  ("capsule_keyvalue_bench_" + std::to_string(::getpid()) + ".db");
  {
    std::shared_ptr<storage::KvBackend> file(
        or_die(storage::SqliteKvBackend::open(db), "open SQLite"));
    run("SQLite file", file, *dir);
  }
  std::filesystem::remove(db);
  std::filesystem::remove(db.string() + "-wal");
  std::filesystem::remove(db.string() + "-shm");
  std::shared_ptr<storage::KvBackend> memory(
      or_die(storage::SqliteKvBackend::open(":memory:"), "open SQLite :memory:"));
  run("SQLite :memory:", memory, *dir);
  return 0;
}

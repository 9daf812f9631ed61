# Builds one Go component; run by capsule_add_go_component (CapsuleGuest.cmake) as
#   cmake -DWORK_DIR=... -DSOURCE_DIR=... -DWIT_DIR=... -DWORLD=... -DEXPORT_PACKAGE=...
#         -DWITRT_DIR=... -DWIT_BINDGEN=... -DGO=... -DGO_CACHE=... -DWASM_TOOLS=... -DADAPTER=...
#         -DPYTHON=... -DOUTPUT=... -P CapsuleGoComponent.cmake
# Steps: `wit-bindgen go` writes the bindings of WORLD into WORK_DIR (a Go module named
# wit_component, with stubs for the exported interfaces); the guest's .go files replace the stub
# of EXPORT_PACKAGE; go.mod points the bindings' runtime import at guest/go/witrt (no module is
# downloaded); Go builds a wasip1 reactor (-buildmode=c-shared); CapsuleGoArena.py gives the
# preview1 adapter memory Go does not use; wasm-tools embeds the WIT and makes the component with
# the adapter.
cmake_minimum_required(VERSION 3.25)

foreach(var WORK_DIR SOURCE_DIR WIT_DIR WORLD EXPORT_PACKAGE WITRT_DIR WIT_BINDGEN GO GO_CACHE
            WASM_TOOLS ADAPTER PYTHON OUTPUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "CapsuleGoComponent.cmake needs -D${var}=...")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE code
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${what} failed (${code}):\n${out}${err}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
run("wit-bindgen go" "${WIT_BINDGEN}" go "${WIT_DIR}" --world "${WORLD}" --generate-stubs
    --out-dir "${WORK_DIR}")
if(NOT IS_DIRECTORY "${WORK_DIR}/${EXPORT_PACKAGE}")
  file(GLOB packages RELATIVE "${WORK_DIR}" "${WORK_DIR}/export_*")
  message(FATAL_ERROR "world ${WORLD} has no exported interface package ${EXPORT_PACKAGE} "
                      "(it has: ${packages})")
endif()
file(REMOVE "${WORK_DIR}/${EXPORT_PACKAGE}/wit_bindings.go")
file(GLOB sources "${SOURCE_DIR}/*.go")
if(NOT sources)
  message(FATAL_ERROR "no .go files in ${SOURCE_DIR}")
endif()
file(COPY ${sources} DESTINATION "${WORK_DIR}/${EXPORT_PACKAGE}")
file(APPEND "${WORK_DIR}/go.mod" "\nreplace go.bytecodealliance.org/pkg => ${WITRT_DIR}\n")

# Nothing is fetched: the toolchain is the machine's, modules come from the replace above.
set(ENV{GOOS} wasip1)
set(ENV{GOARCH} wasm)
set(ENV{CGO_ENABLED} 0)
set(ENV{GOTOOLCHAIN} local)
set(ENV{GOPROXY} off)
set(ENV{GOFLAGS} -mod=mod)
set(ENV{GOWORK} off)
set(ENV{GOCACHE} "${GO_CACHE}")
run("go build" "${GO}" build -trimpath -buildmode=c-shared -o "${WORK_DIR}/core.wasm" .)
run("the adapter's arena" "${PYTHON}" "${CMAKE_CURRENT_LIST_DIR}/CapsuleGoArena.py" "${WASM_TOOLS}"
    "${WORK_DIR}/core.wasm" "${WORK_DIR}/core-arena.wasm")
run("wasm-tools component embed" "${WASM_TOOLS}" component embed "${WIT_DIR}" --world "${WORLD}"
    "${WORK_DIR}/core-arena.wasm" -o "${WORK_DIR}/embedded.wasm")
get_filename_component(output_dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${output_dir}")
run("wasm-tools component new" "${WASM_TOOLS}" component new "${WORK_DIR}/embedded.wasm"
    --adapt "wasi_snapshot_preview1=${ADAPTER}" -o "${OUTPUT}")
run("wasm-tools validate" "${WASM_TOOLS}" validate "${OUTPUT}")

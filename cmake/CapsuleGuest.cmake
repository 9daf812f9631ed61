# Building capsule components from C and C++ sources:
#   capsule_add_component(<name> SOURCES a.c b.cpp [WIT_DIR dir] [OUTPUT_DIR dir]
#                         [LINK_FLAGS flag...] [BINDGEN_FLAGS flag...])
# produces <OUTPUT_DIR>/<name>.wasm (default ${CMAKE_BINARY_DIR}/components) and a target
# <name>_component built by `all`. Steps: wit-bindgen C bindings for the `component` world of
# WIT_DIR (default: this repo's wit/), clang-19 --target=wasm32-wasi -mexec-model=reactor,
# `wasm-tools component new`, with the WASI preview1 adapter only if the module imports WASI.
# BINDGEN_FLAGS go to `wit-bindgen c` (e.g. --generate-async-helpers, for the component model's
# async built-ins: waitable sets, task context, yield).
#
# The same file serves this repository (cmake/) and an installed capsule (share/capsule/cmake/,
# loaded by find_package(capsule COMPONENTS guest)): the SDK, the WIT and the WASI WIT are found
# relative to it, the guest tools in CAPSULE_CACHE_DIR (scripts/bootstrap.sh), then on PATH.
if(NOT DEFINED CAPSULE_CACHE_DIR)
  set(CAPSULE_CACHE_DIR "$ENV{HOME}/.cache/capsule")
endif()
set(CAPSULE_TOOLS_BIN "${CAPSULE_CACHE_DIR}/tools/bin")
find_program(CAPSULE_GUEST_CC clang-19 REQUIRED)
find_program(CAPSULE_GUEST_CXX clang++-19 REQUIRED)
# The pinned versions from the bootstrap first; PATH only when they are not there.
find_program(CAPSULE_WASM_TOOLS wasm-tools HINTS "${CAPSULE_TOOLS_BIN}" NO_DEFAULT_PATH)
find_program(CAPSULE_WASM_TOOLS wasm-tools REQUIRED)
find_program(CAPSULE_WIT_BINDGEN wit-bindgen HINTS "${CAPSULE_TOOLS_BIN}" NO_DEFAULT_PATH)
find_program(CAPSULE_WIT_BINDGEN wit-bindgen REQUIRED)
# An installed capsule ships the adapter (share/capsule/adapter); this repository's build takes it
# from the bootstrap's cache.
set(_capsule_adapter "${CMAKE_CURRENT_LIST_DIR}/../adapter/wasi_snapshot_preview1.reactor.wasm")
if(NOT EXISTS "${_capsule_adapter}")
  set(_capsule_adapter "${CAPSULE_CACHE_DIR}/adapter/wasi_snapshot_preview1.reactor.wasm")
endif()
set(CAPSULE_WASI_ADAPTER "${_capsule_adapter}"
    CACHE FILEPATH "WASI preview1 reactor adapter matching Wasmtime 48")
if(NOT EXISTS "${CAPSULE_WASI_ADAPTER}")
  message(FATAL_ERROR "WASI adapter ${CAPSULE_WASI_ADAPTER} missing: run scripts/bootstrap.sh")
endif()
set(CAPSULE_GUEST_SDK_DIR "${CMAKE_CURRENT_LIST_DIR}/../guest/sdk")
# The capsule:core WIT package components are built against (WIT_DIR's default).
set(CAPSULE_WIT_DIR "${CMAKE_CURRENT_LIST_DIR}/../wit")
set(CAPSULE_COMPONENTS_DIR "${CMAKE_BINARY_DIR}/components")
set(_capsule_guest_flags --target=wasm32-wasi -O2 -g0 -Wall -Wextra -Werror)

# The arguments every capsule_add_*component function shares, defaulted in the caller's ARG_
# variables (a macro: it sets them in the calling function): WIT_DIR capsule's WIT package,
# WORLD `component`, OUTPUT_DIR the components directory. `required` names the argument the
# function cannot do without (SOURCES, SOURCE, SOURCE_DIR, CRATE_DIR), `caller` the function,
# for its error.
macro(_capsule_guest_defaults caller required)
  if(NOT ARG_${required})
    message(FATAL_ERROR "${caller}(${name}) needs ${required}")
  endif()
  if(NOT ARG_WIT_DIR)
    set(ARG_WIT_DIR "${CAPSULE_WIT_DIR}")
  endif()
  if(NOT ARG_WORLD)
    set(ARG_WORLD component)
  endif()
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR "${CAPSULE_COMPONENTS_DIR}")
  endif()
endmacro()

# Generates the C bindings of one WIT package once, shared by every component built against it
# with the same extra wit-bindgen flags (ARGN; none by default).
function(_capsule_bindings wit_dir out_var)
  get_filename_component(wit_dir "${wit_dir}" ABSOLUTE)
  string(SHA1 key "${wit_dir};${ARGN}")
  string(SUBSTRING "${key}" 0 12 key)
  set(out "${CMAKE_BINARY_DIR}/guest-bindings/${key}")
  if(NOT TARGET capsule_bindings_${key})
    file(GLOB wit_files CONFIGURE_DEPENDS "${wit_dir}/*.wit")
    add_custom_command(
      OUTPUT "${out}/component.c" "${out}/component.h" "${out}/component_component_type.o"
      COMMAND "${CAPSULE_WIT_BINDGEN}" c "${wit_dir}" --world component ${ARGN} --out-dir "${out}"
      DEPENDS ${wit_files}
      COMMENT "wit-bindgen C bindings for ${wit_dir}"
      VERBATIM)
    add_custom_target(capsule_bindings_${key}
      DEPENDS "${out}/component.c" "${out}/component.h" "${out}/component_component_type.o")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
  set(${out_var}_TARGET capsule_bindings_${key} PARENT_SCOPE)
endfunction()

function(capsule_add_component name)
  cmake_parse_arguments(ARG "" "WIT_DIR;OUTPUT_DIR" "SOURCES;LINK_FLAGS;BINDGEN_FLAGS" ${ARGN})
  _capsule_guest_defaults(capsule_add_component SOURCES)
  _capsule_bindings("${ARG_WIT_DIR}" bindings ${ARG_BINDGEN_FLAGS})
  set(work "${CMAKE_CURRENT_BINARY_DIR}/${name}.guest")
  set(includes -I${bindings} -I${CAPSULE_GUEST_SDK_DIR}/include)

  set(commands)
  set(objects)
  set(deps)
  set(linker "${CAPSULE_GUEST_CC}")
  set(all_sources ${ARG_SOURCES} "${CAPSULE_GUEST_SDK_DIR}/src/capsule_guest.c" "${bindings}/component.c")
  foreach(src IN LISTS all_sources)
    get_filename_component(abs "${src}" ABSOLUTE)
    get_filename_component(stem "${src}" NAME)
    set(obj "${work}/${stem}.o")
    if(abs MATCHES "\\.(cpp|cc|cxx)$")
      set(cc "${CAPSULE_GUEST_CXX}")
      set(lang_flags -std=c++20 -fno-exceptions -fno-rtti)
      set(linker "${CAPSULE_GUEST_CXX}")
    else()
      set(cc "${CAPSULE_GUEST_CC}")
      set(lang_flags -std=c17)
    endif()
    if(abs STREQUAL "${bindings}/component.c")
      set(warn -Wno-unused-parameter)  # generated code
    else()
      set(warn)
    endif()
    list(APPEND commands COMMAND "${cc}" ${_capsule_guest_flags} ${lang_flags} ${warn} ${includes} -c "${abs}" -o "${obj}")
    list(APPEND objects "${obj}")
    list(APPEND deps "${abs}")
  endforeach()

  set(core "${work}/${name}.core.wasm")
  set(out "${ARG_OUTPUT_DIR}/${name}.wasm")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${work}" "${ARG_OUTPUT_DIR}"
    ${commands}
    COMMAND "${linker}" ${_capsule_guest_flags} -mexec-model=reactor ${ARG_LINK_FLAGS} ${objects} "${bindings}/component_component_type.o" -o "${core}"
    COMMAND "${CAPSULE_WASM_TOOLS}" component new "${core}"
            --adapt "wasi_snapshot_preview1=${CAPSULE_WASI_ADAPTER}" -o "${out}"
    COMMAND "${CAPSULE_WASM_TOOLS}" validate "${out}"
    DEPENDS ${deps} ${bindings_TARGET} "${bindings}/component.h"
            "${CAPSULE_GUEST_SDK_DIR}/include/capsule/guest.h"
            "${CAPSULE_GUEST_SDK_DIR}/include/capsule/guest.hpp"
    COMMENT "capsule component ${name}.wasm"
    VERBATIM)
  add_custom_target(${name}_component ALL DEPENDS "${out}")
  set_property(TARGET ${name}_component PROPERTY CAPSULE_COMPONENT_FILE "${out}")
endfunction()

# wasi:http/proxy components from C (Spin / `wasmtime serve` style), against the WASI 0.2.12 WIT
# vendored from wasmtime-wasi-http 48.0.8 (CAPSULE_WASI_WIT_DIR), without the capsule SDK:
#   capsule_add_wasi_http_component(<name> SOURCES a.c ... [OUTPUT_DIR dir] [CAPSULE_CORE])
# produces <OUTPUT_DIR>/<name>.wasm and <name>_component; the sources include "proxy.h" and
# define exports_wasi_http_incoming_handler_handle. CAPSULE_CORE builds against the world
# capsule:http-core/proxy instead (CAPSULE_WASI_HTTP_CORE_WIT_DIR): wasi:http/proxy and capsule:core
# messaging, for a handler that asks other components (messaging.call) before it answers.
set(CAPSULE_WASI_WIT_DIR "${CMAKE_CURRENT_LIST_DIR}/../third_party/wasi-wit/0.2.12")
function(capsule_add_wasi_http_component name)
  cmake_parse_arguments(ARG "CAPSULE_CORE" "OUTPUT_DIR" "SOURCES" ${ARGN})
  _capsule_guest_defaults(capsule_add_wasi_http_component SOURCES)  # its WIT: CAPSULE_WASI_WIT_DIR
  if(ARG_CAPSULE_CORE)
    set(key wasi_http_core)
    set(wit_dir "${CAPSULE_WASI_HTTP_CORE_WIT_DIR}")
    set(world capsule:http-core/proxy)
  else()
    set(key wasi_http_proxy)
    set(wit_dir "${CAPSULE_WASI_WIT_DIR}")
    set(world wasi:http/proxy@0.2.12)
  endif()
  set(bindings "${CMAKE_BINARY_DIR}/guest-bindings/${key}")
  if(NOT TARGET capsule_bindings_${key})
    file(GLOB_RECURSE wit_files CONFIGURE_DEPENDS "${wit_dir}/*.wit")
    add_custom_command(
      OUTPUT "${bindings}/proxy.c" "${bindings}/proxy.h" "${bindings}/proxy_component_type.o"
      COMMAND "${CAPSULE_WIT_BINDGEN}" c "${wit_dir}" --world ${world} --out-dir "${bindings}"
      DEPENDS ${wit_files}
      COMMENT "wit-bindgen C bindings for ${world}"
      VERBATIM)
    add_custom_target(capsule_bindings_${key}
      DEPENDS "${bindings}/proxy.c" "${bindings}/proxy.h" "${bindings}/proxy_component_type.o")
  endif()
  set(work "${CMAKE_CURRENT_BINARY_DIR}/${name}.guest")
  set(commands)
  set(objects)
  set(deps)
  foreach(src IN LISTS ARG_SOURCES ITEMS "${bindings}/proxy.c")
    get_filename_component(abs "${src}" ABSOLUTE)
    get_filename_component(stem "${src}" NAME)
    set(warn)
    if(abs STREQUAL "${bindings}/proxy.c")
      set(warn -Wno-unused-parameter)  # generated code
    endif()
    list(APPEND commands COMMAND "${CAPSULE_GUEST_CC}" ${_capsule_guest_flags} -std=c17 ${warn}
         -I${bindings} -c "${abs}" -o "${work}/${stem}.o")
    list(APPEND objects "${work}/${stem}.o")
    list(APPEND deps "${abs}")
  endforeach()
  set(core "${work}/${name}.core.wasm")
  set(out "${ARG_OUTPUT_DIR}/${name}.wasm")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${work}" "${ARG_OUTPUT_DIR}"
    ${commands}
    COMMAND "${CAPSULE_GUEST_CC}" ${_capsule_guest_flags} -mexec-model=reactor ${objects}
            "${bindings}/proxy_component_type.o" -o "${core}"
    COMMAND "${CAPSULE_WASM_TOOLS}" component new "${core}"
            --adapt "wasi_snapshot_preview1=${CAPSULE_WASI_ADAPTER}" -o "${out}"
    COMMAND "${CAPSULE_WASM_TOOLS}" validate "${out}"
    DEPENDS ${deps} capsule_bindings_${key} "${bindings}/proxy.h"
    COMMENT "wasi:http/proxy component ${name}.wasm (C)"
    VERBATIM)
  add_custom_target(${name}_component ALL DEPENDS "${out}")
  set_property(TARGET ${name}_component PROPERTY CAPSULE_COMPONENT_FILE "${out}")
endfunction()

# capsule components that also use the standard interfaces capsule links for them: wit/ with the
# `component` world importing wasi:keyvalue@0.2.0-draft (store, atomics, batch),
# wasi:config@0.2.0-rc.1 and wasi:logging@0.1.0-draft, their packages (third_party/wasi-wit) in
# deps/. Pass it as WIT_DIR to capsule_add_component or capsule_add_python_component.
set(CAPSULE_WASI_SERVICES_WIT_DIR "${CMAKE_BINARY_DIR}/wit-capsule-wasi-services")
# The imports both worlds add, and the packages they need in deps/.
set(_capsule_wasi_services_imports
    "  import wasi:keyvalue/store@0.2.0-draft;\n  import wasi:keyvalue/atomics@0.2.0-draft;\n  import wasi:keyvalue/batch@0.2.0-draft;\n  import wasi:config/store@0.2.0-rc.1;\n  import wasi:logging/logging@0.1.0-draft;\n")
function(_capsule_wasi_services_deps out)
  set(root "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/..")
  foreach(pkg keyvalue-0.2.0-draft config-0.2.0-rc.1 logging-0.1.0-draft)
    string(REGEX REPLACE "-.*" "" dep "${pkg}")
    file(GLOB dep_files CONFIGURE_DEPENDS "${root}/third_party/wasi-wit/${pkg}/*.wit")
    foreach(f IN LISTS dep_files)
      get_filename_component(n "${f}" NAME)
      configure_file("${f}" "${out}/deps/${dep}/${n}" COPYONLY)
    endforeach()
  endforeach()
endfunction()
function(_capsule_wasi_services_wit)
  set(root "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/..")
  set(out "${CAPSULE_WASI_SERVICES_WIT_DIR}")
  file(GLOB wit_files CONFIGURE_DEPENDS "${root}/wit/*.wit")
  foreach(f IN LISTS wit_files)
    get_filename_component(n "${f}" NAME)
    file(READ "${f}" text)
    string(REPLACE "world component {\n" "world component {\n${_capsule_wasi_services_imports}"
                   text "${text}")
    # Through a scratch copy: configure_file rewrites (and so rebuilds the bindings) only on change.
    file(WRITE "${out}.scratch/${n}" "${text}")
    configure_file("${out}.scratch/${n}" "${out}/${n}" COPYONLY)
  endforeach()
  _capsule_wasi_services_deps("${out}")
endfunction()
_capsule_wasi_services_wit()

# wasi:http/proxy components that also use wasi:keyvalue, wasi:config and wasi:logging (capsule
# links them for proxy routes too, docs/http.md): the world capsule:http-services/proxy, which
# includes wasi:http/proxy@0.2.12 and imports those three, with every package in deps/. Pass it
# as WIT_DIR with WORLD capsule:http-services/proxy.
set(CAPSULE_WASI_HTTP_SERVICES_WIT_DIR "${CMAKE_BINARY_DIR}/wit-wasi-http-services")
# A wasi:http world of ours in <out>: world.wit with `text` (through a scratch copy:
# configure_file rewrites it, and so rebuilds the bindings, only on change) and the WASI 0.2.12
# packages in deps/.
function(_capsule_wasi_http_world out text)
  set(root "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/..")
  file(WRITE "${out}.scratch/world.wit" "${text}")
  configure_file("${out}.scratch/world.wit" "${out}/world.wit" COPYONLY)
  file(GLOB wasi_files CONFIGURE_DEPENDS "${root}/third_party/wasi-wit/0.2.12/deps/*.wit")
  foreach(f IN LISTS wasi_files)
    get_filename_component(n "${f}" NAME)
    configure_file("${f}" "${out}/deps/${n}" COPYONLY)
  endforeach()
endfunction()
function(_capsule_wasi_http_services_wit)
  set(out "${CAPSULE_WASI_HTTP_SERVICES_WIT_DIR}")
  _capsule_wasi_http_world("${out}"
       "package capsule:http-services;\n\nworld proxy {\n  include wasi:http/proxy@0.2.12;\n${_capsule_wasi_services_imports}}\n")
  _capsule_wasi_services_deps("${out}")
endfunction()
_capsule_wasi_http_services_wit()

# wasi:http/proxy components that also import capsule:core messaging (docs/http.md, "capsule:core
# for proxy routes"): the world capsule:http-core/proxy, which includes wasi:http/proxy@0.2.12 and
# imports capsule:core/messaging, with the WASI packages and wit/ in deps/.
set(CAPSULE_WASI_HTTP_CORE_WIT_DIR "${CMAKE_BINARY_DIR}/wit-wasi-http-core")
function(_capsule_wasi_http_core_wit)
  set(root "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/..")
  set(out "${CAPSULE_WASI_HTTP_CORE_WIT_DIR}")
  file(READ "${root}/wit/world.wit" world_text)
  string(REGEX MATCH "capsule:core@[0-9.]+" core "${world_text}")
  string(REPLACE "capsule:core@" "" version "${core}")
  _capsule_wasi_http_world("${out}"
       "package capsule:http-core;\n\nworld proxy {\n  include wasi:http/proxy@0.2.12;\n  import capsule:core/messaging@${version};\n}\n")
  file(GLOB core_files CONFIGURE_DEPENDS "${root}/wit/*.wit")
  foreach(f IN LISTS core_files)
    get_filename_component(n "${f}" NAME)
    configure_file("${f}" "${out}/deps/capsule-core/${n}" COPYONLY)
  endforeach()
endfunction()
_capsule_wasi_http_core_wit()

# Python components, built with componentize-py (pinned in scripts/python-guest-requirements.txt,
# installed by scripts/bootstrap.sh into ${CAPSULE_CACHE_DIR}/py-guest-venv):
#   capsule_add_python_component(<name> SOURCE app.py [WIT_DIR dir] [WORLD world] [OUTPUT_DIR dir])
# produces <OUTPUT_DIR>/<name>.wasm and a target <name>_component built by `all`. The module is
# the file's stem, its directory is the module path (everything in it is bundled), and its
# `Lifecycle` class implements the `lifecycle` export. WORLD defaults to capsule's `component`;
# a wasi:http/proxy component passes WIT_DIR ${CAPSULE_WASI_WIT_DIR} WORLD wasi:http/proxy@0.2.12
# and implements `IncomingHandler`. CAPSULE_PYTHON_GUESTS is TRUE when the
# toolchain is there; without it the function says so once and defines nothing, so callers
# guard their Python tests with that variable.
set(CAPSULE_PY_GUEST_VENV "${CAPSULE_CACHE_DIR}/py-guest-venv" CACHE PATH
    "Virtual environment holding componentize-py (scripts/bootstrap.sh)")
find_program(CAPSULE_COMPONENTIZE_PY componentize-py HINTS "${CAPSULE_PY_GUEST_VENV}/bin"
             NO_DEFAULT_PATH)
if(CAPSULE_COMPONENTIZE_PY)
  set(CAPSULE_PYTHON_GUESTS TRUE)
else()
  set(CAPSULE_PYTHON_GUESTS FALSE)
  message(STATUS "componentize-py not found in ${CAPSULE_PY_GUEST_VENV}: Python components and "
                 "their tests are skipped (run scripts/bootstrap.sh)")
endif()

function(capsule_add_python_component name)
  cmake_parse_arguments(ARG "" "SOURCE;WIT_DIR;WORLD;OUTPUT_DIR" "" ${ARGN})
  _capsule_guest_defaults(capsule_add_python_component SOURCE)
  if(NOT CAPSULE_PYTHON_GUESTS)
    return()
  endif()
  get_filename_component(src "${ARG_SOURCE}" ABSOLUTE)
  get_filename_component(module "${src}" NAME_WE)
  get_filename_component(module_dir "${src}" DIRECTORY)
  file(GLOB py_files CONFIGURE_DEPENDS "${module_dir}/*.py")
  file(GLOB wit_files CONFIGURE_DEPENDS "${ARG_WIT_DIR}/*.wit")
  set(out "${ARG_OUTPUT_DIR}/${name}.wasm")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${ARG_OUTPUT_DIR}"
    # No VIRTUAL_ENV: componentize-py would add that venv's site-packages to the bundle.
    COMMAND ${CMAKE_COMMAND} -E env --unset=VIRTUAL_ENV
            "${CAPSULE_COMPONENTIZE_PY}" --wit-path "${ARG_WIT_DIR}" --world "${ARG_WORLD}"
            componentize --python-path "${module_dir}" "${module}" --output "${out}"
    COMMAND "${CAPSULE_WASM_TOOLS}" validate "${out}"
    DEPENDS ${py_files} ${wit_files} "${CAPSULE_COMPONENTIZE_PY}"
    COMMENT "capsule Python component ${name}.wasm (componentize-py)"
    VERBATIM)
  add_custom_target(${name}_component ALL DEPENDS "${out}")
  set_property(TARGET ${name}_component PROPERTY CAPSULE_COMPONENT_FILE "${out}")
endfunction()

# JavaScript components, built with componentize-js (pinned in scripts/js-guest/package-lock.json,
# installed by scripts/bootstrap.sh with `npm ci` into ${CAPSULE_CACHE_DIR}/js-guest):
#   capsule_add_js_component(<name> SOURCE app.js [WIT_DIR dir] [OUTPUT_DIR dir]
#                            [BACKEND spidermonkey|quickjs])
# produces <OUTPUT_DIR>/<name>.wasm and a target <name>_component built by `all`. The source is an
# ES module whose `lifecycle` export object implements the lifecycle interface; relative imports
# are bundled. Guests get stdio, clocks and random from WASI; `http` (fetch) and `fetch-event` are
# disabled because they import wasi:http, which capsule does not link. BACKEND quickjs builds the
# same source with componentize-qjs (jco's QuickJS backend, same lockfile): a smaller engine whose
# runtime calls the component model's async built-ins, so the component runs on the engine's
# async-ABI side (docs/engine.md). CAPSULE_JS_GUESTS is TRUE
# when the toolchain is there; without it the function says so once and defines nothing (callers
# guard their JavaScript tests with that variable) - unless the environment sets CI, where every
# language must build and a missing toolchain is a configure error.
# Sets <var> to whether a guest language's toolchain is there (`found`). Without it: a configure
# error where the environment sets CI (every language must build there), otherwise one status line
# saying why its components and tests are skipped.
function(_capsule_guest_toolchain var found language why)
  if(found)
    set(${var} TRUE PARENT_SCOPE)
    return()
  endif()
  if(DEFINED ENV{CI})
    message(FATAL_ERROR "${why}, and CI requires the ${language} guests")
  endif()
  message(STATUS "${why}: ${language} components and their tests are skipped")
  set(${var} FALSE PARENT_SCOPE)
endfunction()

set(CAPSULE_JS_GUEST_DIR "${CAPSULE_CACHE_DIR}/js-guest" CACHE PATH
    "npm prefix holding componentize-js (scripts/bootstrap.sh)")
find_program(CAPSULE_NODE node)
find_program(CAPSULE_COMPONENTIZE_JS componentize-js HINTS "${CAPSULE_JS_GUEST_DIR}/node_modules/.bin"
             NO_DEFAULT_PATH)
find_program(CAPSULE_COMPONENTIZE_QJS componentize-qjs
             HINTS "${CAPSULE_JS_GUEST_DIR}/node_modules/.bin" NO_DEFAULT_PATH)
set(_capsule_js_found FALSE)
if(CAPSULE_NODE AND CAPSULE_COMPONENTIZE_JS AND CAPSULE_COMPONENTIZE_QJS)
  set(_capsule_js_found TRUE)
endif()
_capsule_guest_toolchain(CAPSULE_JS_GUESTS ${_capsule_js_found} JavaScript
  "componentize-js or componentize-qjs not found in ${CAPSULE_JS_GUEST_DIR} (node: ${CAPSULE_NODE}; run scripts/bootstrap.sh)")
set(CAPSULE_JS_DISABLED_FEATURES http fetch-event)

function(capsule_add_js_component name)
  cmake_parse_arguments(ARG "" "SOURCE;WIT_DIR;OUTPUT_DIR;BACKEND" "" ${ARGN})
  _capsule_guest_defaults(capsule_add_js_component SOURCE)
  if(NOT CAPSULE_JS_GUESTS)
    return()
  endif()
  get_filename_component(src "${ARG_SOURCE}" ABSOLUTE)
  get_filename_component(src_dir "${src}" DIRECTORY)
  file(GLOB js_files CONFIGURE_DEPENDS "${src_dir}/*.js" "${src_dir}/*.mjs")
  file(GLOB wit_files CONFIGURE_DEPENDS "${ARG_WIT_DIR}/*.wit")
  set(out "${ARG_OUTPUT_DIR}/${name}.wasm")
  if(NOT ARG_BACKEND OR ARG_BACKEND STREQUAL "spidermonkey")
    set(tool "${CAPSULE_COMPONENTIZE_JS}")
    set(build "${CAPSULE_NODE}" "${tool}" "${src}" --wit "${ARG_WIT_DIR}" --world-name component
              --disable ${CAPSULE_JS_DISABLED_FEATURES} --out "${out}")
  elseif(ARG_BACKEND STREQUAL "quickjs")
    set(tool "${CAPSULE_COMPONENTIZE_QJS}")
    set(build "${CAPSULE_NODE}" "${tool}" --wit "${ARG_WIT_DIR}" --world component --js "${src}"
              --output "${out}")
  else()
    message(FATAL_ERROR "capsule_add_js_component(${name}): BACKEND is spidermonkey or quickjs, "
                        "not '${ARG_BACKEND}'")
  endif()
  get_filename_component(tool_name "${tool}" NAME)
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${ARG_OUTPUT_DIR}"
    COMMAND ${build}
    COMMAND "${CAPSULE_WASM_TOOLS}" validate "${out}"
    DEPENDS ${js_files} ${wit_files} "${tool}"
    COMMENT "capsule JavaScript component ${name}.wasm (${tool_name})"
    VERBATIM)
  add_custom_target(${name}_component ALL DEPENDS "${out}")
  set_property(TARGET ${name}_component PROPERTY CAPSULE_COMPONENT_FILE "${out}")
endfunction()

# Go components, built with the machine's Go (>= 1.24, for //go:wasmexport; GOOS=wasip1) and
# bindings from `wit-bindgen go` (the bootstrap's pinned wit-bindgen):
#   capsule_add_go_component(<name> SOURCE_DIR dir [WIT_DIR dir] [WORLD world] [OUTPUT_DIR dir])
# produces <OUTPUT_DIR>/<name>.wasm and a target <name>_component built by `all`. The .go files in
# SOURCE_DIR are the package export_capsule_core_lifecycle: they define Init, HandleMessage,
# HandleCallback, Health, Shutdown and Metadata, and import the generated packages as
# wit_component/capsule_core_<interface>. The runtime package the bindings import is capsule's own
# (guest/go/witrt), so nothing is downloaded. CAPSULE_GO_GUESTS is TRUE when Go is there; without
# it the function says so once and defines nothing - unless the environment sets CI, where every
# language must build and a missing toolchain is a configure error.
find_program(CAPSULE_GO go HINTS /usr/local/go/bin)
set(_capsule_go_found FALSE)
if(CAPSULE_GO)
  execute_process(COMMAND "${CAPSULE_GO}" env GOVERSION OUTPUT_VARIABLE _capsule_go_version
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _capsule_go_code)
  string(REGEX MATCH "^go([0-9]+)\\.([0-9]+)" _capsule_go_match "${_capsule_go_version}")
  if(_capsule_go_code EQUAL 0 AND _capsule_go_match
     AND (CMAKE_MATCH_1 GREATER 1 OR CMAKE_MATCH_2 GREATER_EQUAL 24))
    set(_capsule_go_found TRUE)
  endif()
endif()
_capsule_guest_toolchain(CAPSULE_GO_GUESTS ${_capsule_go_found} Go
  "Go >= 1.24 not found (found: '${CAPSULE_GO}' ${_capsule_go_version})")
set(CAPSULE_GO_WITRT_DIR "${CMAKE_CURRENT_LIST_DIR}/../guest/go/witrt")
set(_capsule_go_script "${CMAKE_CURRENT_LIST_DIR}/CapsuleGoComponent.cmake")
set(_capsule_go_arena "${CMAKE_CURRENT_LIST_DIR}/CapsuleGoArena.py")
find_program(CAPSULE_GO_PYTHON NAMES python3 python)

function(capsule_add_go_component name)
  cmake_parse_arguments(ARG "" "SOURCE_DIR;WIT_DIR;WORLD;OUTPUT_DIR" "" ${ARGN})
  _capsule_guest_defaults(capsule_add_go_component SOURCE_DIR)
  if(NOT CAPSULE_GO_GUESTS)
    return()
  endif()
  if(NOT CAPSULE_GO_PYTHON)
    message(FATAL_ERROR "capsule_add_go_component(${name}) needs python3 (cmake/CapsuleGoArena.py)")
  endif()
  get_filename_component(src_dir "${ARG_SOURCE_DIR}" ABSOLUTE)
  get_filename_component(wit_dir "${ARG_WIT_DIR}" ABSOLUTE)
  file(GLOB go_files CONFIGURE_DEPENDS "${src_dir}/*.go")
  file(GLOB wit_files CONFIGURE_DEPENDS "${wit_dir}/*.wit")
  file(GLOB_RECURSE witrt_files CONFIGURE_DEPENDS "${CAPSULE_GO_WITRT_DIR}/*.go")
  set(out "${ARG_OUTPUT_DIR}/${name}.wasm")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND "${CMAKE_COMMAND}" -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/go-${name}
            -DSOURCE_DIR=${src_dir} -DWIT_DIR=${wit_dir} -DWORLD=${ARG_WORLD}
            -DEXPORT_PACKAGE=export_capsule_core_lifecycle -DWITRT_DIR=${CAPSULE_GO_WITRT_DIR}
            -DWIT_BINDGEN=${CAPSULE_WIT_BINDGEN} -DGO=${CAPSULE_GO}
            -DGO_CACHE=${CAPSULE_CACHE_DIR}/go-build -DWASM_TOOLS=${CAPSULE_WASM_TOOLS}
            -DADAPTER=${CAPSULE_WASI_ADAPTER} -DPYTHON=${CAPSULE_GO_PYTHON} -DOUTPUT=${out}
            -P "${_capsule_go_script}"
    DEPENDS ${go_files} ${wit_files} ${witrt_files} "${_capsule_go_script}" "${_capsule_go_arena}"
    COMMENT "capsule Go component ${name}.wasm (wit-bindgen go, Go wasip1)"
    VERBATIM)
  add_custom_target(${name}_component ALL DEPENDS "${out}")
  set_property(TARGET ${name}_component PROPERTY CAPSULE_COMPONENT_FILE "${out}")
endfunction()

# Rust components, built with Debian's Rust (rustc-web 1.96, bookworm-security) because rustup
# cannot fetch a wasm32 standard library here: cargo builds one from Debian's sources
# (rust-web-src, /usr/lib/rustlib/src) with -Zbuild-std, for wasm32-wasip1, linked by wasm-ld-19
# against Debian's wasi-libc; bindings from the wit-bindgen crate (the crate's Cargo.lock pins it).
#   capsule_add_rust_component(<name> CRATE_DIR dir [OUTPUT_DIR dir])
# produces <OUTPUT_DIR>/<name>.wasm from the cdylib crate in CRATE_DIR (wit_bindgen::generate! in
# its source names the WIT) and a target <name>_component built by `all`. Every crate shares one
# target directory in CAPSULE_CACHE_DIR (rust-guest-target): the standard library is built once
# per machine (minutes), then each crate in seconds. CAPSULE_RUST_GUESTS is TRUE when the
# toolchain is there; without it the function says so once and defines nothing - unless the
# environment sets CI, where every language must build and a missing toolchain is a configure error.
set(CAPSULE_RUST_GUEST_RUSTC /usr/bin/rustc CACHE FILEPATH "Debian's rustc-web (Rust guests)")
set(CAPSULE_RUST_GUEST_CARGO /usr/bin/cargo CACHE FILEPATH "Debian's cargo-web (Rust guests)")
find_program(CAPSULE_RUST_GUEST_LINKER wasm-ld-19)
# Debian's wasi-libc, which the standard library links against.
set(_capsule_wasi_libc /usr/lib/wasm32-wasi)
# cargo finds the standard library's sources through rustc's sysroot (/usr): only checked here.
set(_capsule_rust_found FALSE)
if(EXISTS "${CAPSULE_RUST_GUEST_RUSTC}" AND EXISTS "${CAPSULE_RUST_GUEST_CARGO}"
   AND EXISTS /usr/lib/rustlib/src/rust/library/std/Cargo.toml AND CAPSULE_RUST_GUEST_LINKER
   AND EXISTS "${_capsule_wasi_libc}/libc.a")
  set(_capsule_rust_found TRUE)
endif()
_capsule_guest_toolchain(CAPSULE_RUST_GUESTS ${_capsule_rust_found} Rust
  "Rust guests need Debian's rustc-web, cargo-web and rust-web-src, wasm-ld-19 (lld-19) and wasi-libc (scripts/bootstrap.sh)")

function(capsule_add_rust_component name)
  cmake_parse_arguments(ARG "" "CRATE_DIR;OUTPUT_DIR" "" ${ARGN})
  _capsule_guest_defaults(capsule_add_rust_component CRATE_DIR)  # its WIT: CAPSULE_WIT_DIR
  if(NOT CAPSULE_RUST_GUESTS)
    return()
  endif()
  get_filename_component(crate "${ARG_CRATE_DIR}" ABSOLUTE)
  file(STRINGS "${crate}/Cargo.toml" package_line REGEX "^name *= *\"[^\"]+\"" LIMIT_COUNT 1)
  string(REGEX REPLACE "^name *= *\"([^\"]+)\".*" "\\1" package "${package_line}")
  if(NOT package)
    message(FATAL_ERROR "capsule_add_rust_component(${name}): no package name in ${crate}/Cargo.toml")
  endif()
  string(REPLACE "-" "_" library "${package}")
  set(target_dir "${CAPSULE_CACHE_DIR}/rust-guest-target")
  set(core "${target_dir}/wasm32-wasip1/release/${library}.wasm")
  file(GLOB_RECURSE rs_files CONFIGURE_DEPENDS "${crate}/src/*.rs")
  file(GLOB wit_files CONFIGURE_DEPENDS "${CAPSULE_WIT_DIR}/*.wit")
  set(out "${ARG_OUTPUT_DIR}/${name}.wasm")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -E env "RUSTC=${CAPSULE_RUST_GUEST_RUSTC}" RUSTC_BOOTSTRAP=1
            "RUSTFLAGS=-C linker=${CAPSULE_RUST_GUEST_LINKER} -C link-self-contained=no -L ${_capsule_wasi_libc}"
            "CARGO_TARGET_DIR=${target_dir}"
            "${CAPSULE_RUST_GUEST_CARGO}" build --release --locked --target wasm32-wasip1
            -Zbuild-std=std,panic_abort --manifest-path "${crate}/Cargo.toml"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${ARG_OUTPUT_DIR}"
    COMMAND "${CAPSULE_WASM_TOOLS}" component new "${core}"
            --adapt "wasi_snapshot_preview1=${CAPSULE_WASI_ADAPTER}" -o "${out}"
    COMMAND "${CAPSULE_WASM_TOOLS}" validate "${out}"
    DEPENDS ${rs_files} "${crate}/Cargo.toml" ${wit_files}
    WORKING_DIRECTORY "${crate}"
    COMMENT "capsule Rust component ${name}.wasm (cargo -Zbuild-std, Debian's rustc-web)"
    VERBATIM)
  add_custom_target(${name}_component ALL DEPENDS "${out}")
  set_property(TARGET ${name}_component PROPERTY CAPSULE_COMPONENT_FILE "${out}")
endfunction()

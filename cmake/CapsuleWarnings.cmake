# Every first-party target gets the same strict warnings; third-party headers are SYSTEM.
add_library(capsule_warnings INTERFACE)
target_compile_options(capsule_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Werror -Wpedantic -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough>)

if(CAPSULE_SANITIZER STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(CAPSULE_SANITIZER STREQUAL "thread")
  # -Wno-tsan: GCC warns that TSan does not model atomic_thread_fence (used by Asio and by the
  # scheduler's park/wake protocol); with -Werror that warning would stop the build. TSan still
  # checks every other synchronisation; fence-only orderings are outside what it can verify.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
elseif(NOT CAPSULE_SANITIZER STREQUAL "")
  message(FATAL_ERROR "CAPSULE_SANITIZER must be '', 'address' or 'thread', not '${CAPSULE_SANITIZER}'")
endif()

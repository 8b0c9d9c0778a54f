# Owned by the storage engine. Paths relative to engine/.
set(JETBACK_STORAGE_SOURCES
  background_pool.cc
  btree.cc
  checkpoint.cc
  commit.cc
  crash_recovery.cc
  database_impl.cc
  db_file.cc
  env_posix.cc
  fault_env.cc
  format.cc
  instance.cc
  log.cc
  log_scanner.cc
  redo.cc
  registry.cc
  transaction.cc
)

# Registers the storage engine's tests (called from engine/CMakeLists.txt
# once jetback_engine exists).
function(jetback_storage_tests)
  jetback_cc_test(NAME format_test SRCS format_test.cc DEPS jetback_engine)
  jetback_cc_test(NAME log_scanner_test SRCS log_scanner_test.cc
    DEPS jetback_engine)
  jetback_cc_test(NAME background_pool_test SRCS background_pool_test.cc
    DEPS jetback_engine)
  jetback_cc_test(NAME instance_test SRCS instance_test.cc DEPS jetback_engine)
  jetback_cc_test(NAME crash_recovery_test SRCS crash_recovery_test.cc
    DEPS jetback_engine)
  jetback_cc_test(NAME probe_test SRCS probe_test.cc DEPS jetback_engine)
  jetback_cc_test(NAME db_file_test SRCS db_file_test.cc DEPS jetback_engine)
  jetback_cc_test(NAME btree_model_test SRCS btree_model_test.cc
    DEPS jetback_engine)
  jetback_cc_test(NAME fault_env_test SRCS fault_env_test.cc
    DEPS jetback_engine)
  if(JETBACK_BUILD_TESTS)
    add_executable(jetback_crash_child crash_child.cc)
    target_link_libraries(jetback_crash_child PRIVATE jetback_engine)
  endif()
  jetback_cc_test(NAME crash_test SRCS crash_test.cc DEPS jetback_engine
    TIMEOUT 600 LABELS crash)
  if(TARGET crash_test)
    add_dependencies(crash_test jetback_crash_child)
    target_compile_definitions(crash_test PRIVATE
      JETBACK_CRASH_CHILD="$<TARGET_FILE:jetback_crash_child>")
    if(JETBACK_LONG_TESTS)
      add_test(NAME crash_test_long COMMAND crash_test)
      set_tests_properties(crash_test_long PROPERTIES
        ENVIRONMENT JETBACK_CRASH_ROUNDS=1200 TIMEOUT 3600 LABELS "crash;long")
    endif()
  endif()
endfunction()

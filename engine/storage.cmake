# Owned by the storage engine. Paths relative to engine/.
set(JETBACK_STORAGE_SOURCES
  btree.cc
  checkpoint.cc
  commit.cc
  database_impl.cc
  db_file.cc
  env_posix.cc
  fault_env.cc
  format.cc
  instance.cc
  log.cc
  redo.cc
  registry.cc
  transaction.cc
)

# Registers the storage engine's tests (called from engine/CMakeLists.txt
# once jetback_engine exists).
function(jetback_storage_tests)
  jetback_cc_test(NAME format_test SRCS format_test.cc DEPS jetback_engine)
  jetback_cc_test(NAME instance_test SRCS instance_test.cc DEPS jetback_engine)
endfunction()

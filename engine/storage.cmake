# Owned by the storage engine. Paths relative to engine/.
set(JETBACK_STORAGE_SOURCES
  env_posix.cc
  fault_env.cc
  format.cc
)

# Registers the storage engine's tests (called from engine/CMakeLists.txt
# once jetback_engine exists).
function(jetback_storage_tests)
  jetback_cc_test(NAME format_test SRCS format_test.cc DEPS jetback_engine)
endfunction()

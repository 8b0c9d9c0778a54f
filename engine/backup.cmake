# Owned by the streaming backup / restore engine. Paths relative to engine/.
set(JETBACK_BACKUP_SOURCES backup.cc backup_logs.cc backup_stream.cc
  replay_writer.cc restore.cc restore_check.cc restore_replay.cc
  restore_verify.cc)

# Registered by engine/CMakeLists.txt once jetback_engine exists.
function(jetback_backup_tests)
  jetback_cc_test(NAME backup_stream_test
    SRCS backup_stream_test.cc
    DEPS jetback_engine TIMEOUT 60)
  jetback_cc_test(NAME backup_scenario_test
    SRCS backup_scenario_test.cc backup_test_util.cc
    DEPS jetback_engine TIMEOUT 120)
  jetback_cc_test(NAME backup_test
    SRCS backup_test.cc backup_test_util.cc
    DEPS jetback_engine TIMEOUT 300)
  jetback_cc_test(NAME replay_writer_test SRCS replay_writer_test.cc
    DEPS jetback_engine TIMEOUT 60)
  jetback_cc_test(NAME restore_test
    SRCS restore_test.cc backup_test_util.cc
    DEPS jetback_engine TIMEOUT 120)
  jetback_cc_test(NAME point_in_time_test
    SRCS point_in_time_test.cc backup_test_util.cc
    DEPS jetback_engine TIMEOUT 120)
endfunction()

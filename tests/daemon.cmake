# Process-level tests of jetbackd: a real daemon on a temporary socket,
# driven by gRPC stubs (tests/daemon_*.cc).
if(NOT JETBACK_BUILD_TESTS)
  return()
endif()

add_library(daemon_test_util STATIC daemon_test_util.cc)
target_link_libraries(daemon_test_util PUBLIC jetback_proto
  jetback_grpc_status jetback_health_proto GTest::gtest PkgConfig::XXHASH
  OpenSSL::Crypto absl::time absl::strings)
target_compile_definitions(daemon_test_util PUBLIC
  JETBACKD_PATH="$<TARGET_FILE:jetbackd>")
add_dependencies(daemon_test_util jetbackd)

add_executable(daemon_test_agent daemon_test_agent.cc)
target_link_libraries(daemon_test_agent PRIVATE jetback_proto gRPC::grpc++)

jetback_cc_test(NAME daemon_test
  SRCS daemon_test.cc
  DEPS daemon_test_util jetback_engine
  TIMEOUT 120 LABELS daemon)
if(TARGET daemon_test)
  target_compile_definitions(daemon_test PRIVATE
    AGENT_PATH="$<TARGET_FILE:daemon_test_agent>")
  add_dependencies(daemon_test daemon_test_agent)
endif()

jetback_cc_test(NAME daemon_security_test
  SRCS daemon_security_test.cc
  DEPS daemon_test_util jetback_engine
  TIMEOUT 120 LABELS daemon)

# The unit as installed, but pointing at the build tree's binary.
find_program(SYSTEMD_ANALYZE systemd-analyze)
if(SYSTEMD_ANALYZE)
  add_test(NAME daemon_systemd_unit_verify
    COMMAND ${SYSTEMD_ANALYZE} verify
            ${PROJECT_BINARY_DIR}/systemd/verify/jetbackd.service)
  set_tests_properties(daemon_systemd_unit_verify PROPERTIES
    LABELS daemon TIMEOUT 60)
  # The scheduled-backup template, as instance "demo".
  add_test(NAME systemd_backup_units_verify
    COMMAND ${SYSTEMD_ANALYZE} verify
            ${PROJECT_BINARY_DIR}/systemd/verify/jetback-backup@demo.service
            ${PROJECT_BINARY_DIR}/systemd/verify/jetback-backup@demo.timer)
  set_tests_properties(systemd_backup_units_verify PROPERTIES
    LABELS daemon TIMEOUT 60)
endif()

jetback_cc_test(NAME daemon_durability_test
  SRCS daemon_durability_test.cc
  DEPS daemon_test_util jetback_engine
  TIMEOUT 300 LABELS daemon)

# The Prometheus endpoint, scraped by a real Prometheus the test starts.
jetback_cc_test(NAME daemon_metrics_test SRCS daemon_metrics_test.cc
  DEPS daemon_test_util client_test_util jetback_client absl::strings
  TIMEOUT 180 LABELS daemon)

# The example alert rules: promtool's own unit tests (monitoring/).
find_program(PROMTOOL promtool REQUIRED)  # Debian's prometheus package
add_test(NAME monitoring_alert_rules
  COMMAND ${PROMTOOL} test rules jetback-alerts.test.yml
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/monitoring)
set_tests_properties(monitoring_alert_rules PROPERTIES
  LABELS daemon TIMEOUT 60)

# The real object store: a single-node Ceph cluster with one radosgw
# (tests/rgw/rgw-cluster), started once per ctest run by a fixture and
# stopped at its end. Tests that need it list FIXTURES rgw and read the
# endpoint and keys from JETBACK_RGW_ENV_FILE (written by the start).
if(NOT JETBACK_BUILD_TESTS)
  return()
endif()

set(JETBACK_RGW_PORT 17480 CACHE STRING
    "radosgw port of the test cluster (the monitor takes the next one)")
set(JETBACK_RGW_DIR ${PROJECT_BINARY_DIR}/rgw)
set(_rgw_cluster ${CMAKE_CURRENT_SOURCE_DIR}/rgw/rgw-cluster)

add_test(NAME rgw_cluster_start
  COMMAND ${_rgw_cluster} start ${JETBACK_RGW_DIR} ${JETBACK_RGW_PORT})
set_tests_properties(rgw_cluster_start PROPERTIES
  FIXTURES_SETUP rgw TIMEOUT 120 LABELS s3)
add_test(NAME rgw_cluster_stop COMMAND ${_rgw_cluster} stop ${JETBACK_RGW_DIR})
set_tests_properties(rgw_cluster_stop PROPERTIES
  FIXTURES_CLEANUP rgw TIMEOUT 60 LABELS s3)

add_library(rgw_test_util INTERFACE)
target_compile_definitions(rgw_test_util INTERFACE
  JETBACK_RGW_ENV_FILE="${JETBACK_RGW_DIR}/env")

jetback_cc_test(NAME s3_client_test SRCS s3_client_test.cc
  DEPS jetback_s3 rgw_test_util TIMEOUT 120 LABELS s3 FIXTURES rgw)
# The CLI with an S3 repository, against a real jetbackd and the radosgw.
jetback_cc_test(NAME s3_backup_test SRCS s3_backup_test.cc
  DEPS client_test_util jetback_client daemon_test_util jetback_s3
  jetback_repository rgw_test_util TIMEOUT 600 LABELS s3 FIXTURES rgw)
if(TARGET s3_backup_test)
  # One test starts a cluster of its own (port 17490) to kill its radosgw.
  target_compile_definitions(s3_backup_test PRIVATE
    JETBACK_RGW_CLUSTER="${_rgw_cluster}")
endif()

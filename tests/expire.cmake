# `jetback expire` (retention, issue 16) against a real jetbackd: on a
# directory repository, and on the test cluster's radosgw.
jetback_cc_test(NAME expire_test SRCS expire_test.cc
  DEPS client_test_util jetback_client daemon_test_util jetback_cli_lib jetback_repository
  TIMEOUT 300 LABELS client)
if(TARGET rgw_test_util)
  jetback_cc_test(NAME s3_expire_test SRCS s3_expire_test.cc
    DEPS client_test_util jetback_client daemon_test_util jetback_cli_lib jetback_repository
    jetback_s3 rgw_test_util TIMEOUT 300 LABELS s3 FIXTURES rgw)
endif()

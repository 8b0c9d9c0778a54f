/* File: tests/client_c_api_test.h
 * The C API scenario of tests/client_c_api_test.c, callable from C++. */
#ifndef JETBACK_TESTS_CLIENT_C_API_TEST_H_
#define JETBACK_TESTS_CLIENT_C_API_TEST_H_

#ifdef __cplusplus
extern "C" {
#endif

/* Runs a whole backup (and a stopped one) on `instance_name` at `server`;
 * 0 on success, else 1 with the failed check in `message`. */
int RunCApiBackup(const char* server, const char* instance_name, char* message,
                  unsigned long cb_message);

#ifdef __cplusplus
}
#endif

#endif /* JETBACK_TESTS_CLIENT_C_API_TEST_H_ */

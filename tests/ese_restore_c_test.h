/* File: tests/ese_restore_c_test.h
 * The C-compiled restore scenario of tests/ese_restore_c_test.c. */
#ifndef JETBACK_TESTS_ESE_RESTORE_C_TEST_H_
#define JETBACK_TESTS_ESE_RESTORE_C_TEST_H_

#ifdef __cplusplus
extern "C" {
#endif

/* Restores the ESE-style set in `set_dir` into `dest_dir` with
 * JetRestoreInstance and a C progress callback, after the -1003 argument
 * checks; 0 on success, else 1 with the failed check in `message`. */
int RunCRestore(const char* set_dir, const char* dest_dir, char* message,
                unsigned long cb_message);

#ifdef __cplusplus
}
#endif

#endif /* JETBACK_TESTS_ESE_RESTORE_C_TEST_H_ */

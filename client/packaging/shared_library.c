/* libjetback_client.so has no code of its own: the static libraries it is
 * linked from (whole) provide everything; CMake needs one source file. */
typedef int jetback_shared_library_unit;

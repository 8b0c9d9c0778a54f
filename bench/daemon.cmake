# jetbackd benchmarks (not tests): ReadFile throughput over the Unix socket
# and TCP + mTLS next to raw_copy of the same bytes, and StopBackup ->
# client-sees-(-801) latency.
add_executable(jetback_daemon_bench daemon_bench.cc)
target_link_libraries(jetback_daemon_bench PRIVATE jetback_client jetback_proto
  jetback_grpc_status jetback_health_proto gRPC::grpc++ absl::time
  absl::strings absl::str_format)
target_compile_definitions(jetback_daemon_bench PRIVATE
  JETBACKD_PATH="$<TARGET_FILE:jetbackd>"
  RAW_COPY_PATH="$<TARGET_FILE:jetback_raw_copy>")
add_dependencies(jetback_daemon_bench jetbackd jetback_raw_copy)

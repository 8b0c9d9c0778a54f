# Storage engine benchmark (owned by the storage engine). Not a test.
add_executable(jetback_engine_bench ${CMAKE_CURRENT_SOURCE_DIR}/engine_bench.cc)
target_link_libraries(jetback_engine_bench PRIVATE jetback_engine)
# Restore replay throughput, log and database cold (bench/run row 6c).
add_executable(jetback_replay_bench ${CMAKE_CURRENT_SOURCE_DIR}/replay_bench.cc)
target_link_libraries(jetback_replay_bench PRIVATE jetback_engine)

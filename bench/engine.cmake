# Storage engine benchmark (owned by the storage engine). Not a test.
add_executable(jetback_engine_bench ${CMAKE_CURRENT_SOURCE_DIR}/engine_bench.cc)
target_link_libraries(jetback_engine_bench PRIVATE jetback_engine)

# Process-level tests of the client library, the ESE-style C API and the
# `jetback` CLI, each against a real jetbackd (tests/daemon_test_util).

add_library(client_test_util STATIC client_test_util.cc)
target_link_libraries(client_test_util PUBLIC jetback_errors jetback_proto absl::time absl::strings
  absl::synchronization Threads::Threads)
target_compile_definitions(client_test_util PUBLIC
  JETBACK_CLI_PATH="$<TARGET_FILE:jetback>")
add_dependencies(client_test_util jetback)

# The scenario is C, compiled by the C compiler.
add_library(client_c_api_scenario STATIC client_c_api_test.c)
target_link_libraries(client_c_api_scenario PUBLIC jetback_client)
set_target_properties(client_c_api_scenario PROPERTIES LINKER_LANGUAGE C)

jetback_cc_test(NAME client_api_test SRCS client_api_test.cc
  DEPS jetback_client daemon_test_util client_test_util TIMEOUT 120
  LABELS client)
jetback_cc_test(NAME client_c_api_test SRCS client_c_api_driver_test.cc
  DEPS client_c_api_scenario jetback_client daemon_test_util
  TIMEOUT 120 LABELS client)
jetback_cc_test(NAME wire_compression_test SRCS wire_compression_test.cc
  DEPS jetback_client daemon_test_util client_test_util TIMEOUT 120
  LABELS client)
jetback_cc_test(NAME client_cli_test SRCS client_cli_test.cc
  DEPS client_test_util jetback_client daemon_test_util
  TIMEOUT 300 LABELS client)
if(TARGET client_cli_test)
  # The scheduled-backup unit as generated for instance "demo".
  target_compile_definitions(client_cli_test PRIVATE
    JETBACK_BUILD_DIR="${PROJECT_BINARY_DIR}")
endif()
# Bad streams from a scripted server process (a real daemon never sends
# one): the client's -1018 checks.
add_executable(scripted_read_server scripted_read_server.cc)
target_link_libraries(scripted_read_server PRIVATE jetback_proto
  PkgConfig::XXHASH gRPC::grpc++)
jetback_cc_test(NAME client_verify_test SRCS client_verify_test.cc
  DEPS jetback_client daemon_test_util LABELS client)
if(TARGET client_verify_test)  # not with -DJETBACK_BUILD_TESTS=OFF
  target_compile_definitions(client_verify_test PRIVATE
    SCRIPTED_READ_SERVER_PATH="$<TARGET_FILE:scripted_read_server>")
  add_dependencies(client_verify_test scripted_read_server)
endif()
# The stop reaching slow, paced, stalled and library agents, and agents
# whose daemon died.
jetback_cc_test(NAME stop_test SRCS stop_test.cc
  DEPS jetback_client daemon_test_util client_test_util TIMEOUT 300
  LABELS client)
# The ESE scenarios (section 7) through the C API door, against jetbackd.
jetback_cc_test(NAME esent_scenario_test SRCS esent_scenario_test.cc
  DEPS jetback_client daemon_test_util TIMEOUT 300 LABELS client)
# The installed C API: cmake --install of the esent component, the example
# agent built with pkg-config and with find_package(jetback), run against
# jetbackd; exported symbols and soname.
jetback_cc_test(NAME esent_install_test SRCS esent_install_test.cc
  DEPS jetback_client daemon_test_util client_test_util absl::strings
  TIMEOUT 300 LABELS client)
if(TARGET esent_install_test)
  target_compile_definitions(esent_install_test PRIVATE
    CMAKE_COMMAND="${CMAKE_COMMAND}"
    JETBACK_BUILD_DIR="${PROJECT_BINARY_DIR}"
    JETBACK_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    JETBACK_LIBDIR="${CMAKE_INSTALL_LIBDIR}"
    JETBACK_SANITIZE_FLAGS="${JETBACK_SANITIZE}")
  add_dependencies(esent_install_test jetback_client_shared)
endif()
# Restore of an ESE agent's set (no manifest) through `jetback restore` and
# the C restore entry points, with one table of damaged sets for both.
# The restore block of esent.h used from C, compiled by the C compiler.
add_library(ese_restore_c_scenario STATIC ese_restore_c_test.c)
target_link_libraries(ese_restore_c_scenario PUBLIC jetback_esent_restore)
set_target_properties(ese_restore_c_scenario PROPERTIES LINKER_LANGUAGE C)
jetback_cc_test(NAME ese_restore_test SRCS ese_restore_test.cc
  DEPS ese_restore_c_scenario jetback_esent_restore jetback_client
  jetback_engine daemon_test_util client_test_util TIMEOUT 300 LABELS client)

# The generated bash completion loads and completes.
add_test(NAME cli_bash_completion
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/completion_test.sh
          ${PROJECT_BINARY_DIR}/client/jetback.bash)
set_tests_properties(cli_bash_completion PROPERTIES LABELS client TIMEOUT 60)

# Man pages render and jetback(1) names every subcommand.
add_test(NAME man_pages
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/man_test.sh
          ${PROJECT_BINARY_DIR}/docs/man $<TARGET_FILE:jetback>)
set_tests_properties(man_pages PROPERTIES LABELS client TIMEOUT 60)

# A foreign agent (Python grpcio, stubs from proto/) gets what the contract
# documents: digests, wire compression, -1003, the stop as -801 with reason.
add_test(NAME foreign_python_agent
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/foreign/agent_test.sh
          $<TARGET_FILE:jetbackd> $<TARGET_FILE:jetback> ${PROJECT_SOURCE_DIR}/proto)
set_tests_properties(foreign_python_agent PROPERTIES LABELS client TIMEOUT 120)

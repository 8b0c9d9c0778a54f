# The Debian package (debian/, scripts/build-deb): its install lists agree
# with what `cmake --install` installs. The package build itself is
# scripts/build-deb (minutes; not in ctest).
add_test(NAME debian_install_lists
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/debian_lists_test.sh
          ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(debian_install_lists PROPERTIES LABELS packaging
  TIMEOUT 60)

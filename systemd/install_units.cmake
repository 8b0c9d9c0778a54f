# Run by `cmake --install` (install(SCRIPT) in CMakeLists.txt): writes
# jetbackd.service and jetback-backup@.service for the install-time
# CMAKE_INSTALL_PREFIX and installs them with backup.env and jetbackd.toml.
# The config directory follows GNUInstallDirs: /etc for the prefixes / and
# /usr, /etc/opt/... for /opt/..., PREFIX/etc otherwise.
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(IS_ABSOLUTE "${JETBACK_SYSCONFDIR}")
  set(sysconfdir "${JETBACK_SYSCONFDIR}")
elseif(prefix STREQUAL "/" OR prefix STREQUAL "/usr")
  set(sysconfdir "/${JETBACK_SYSCONFDIR}")
elseif(prefix MATCHES "^/opt/")
  set(sysconfdir "/${JETBACK_SYSCONFDIR}${prefix}")
else()
  set(sysconfdir "${prefix}/${JETBACK_SYSCONFDIR}")
endif()
if(prefix STREQUAL "/")
  set(prefix "")
endif()
set(JETBACK_CONFIG_DIR "${sysconfdir}/jetback")
set(JETBACKD_EXEC "${prefix}/${JETBACK_SBINDIR}/jetbackd")
set(JETBACK_EXEC "${prefix}/${JETBACK_BINDIR}/jetback")
configure_file("${JETBACK_SYSTEMD_SOURCE_DIR}/jetbackd.service.in"
  "${JETBACK_SYSTEMD_BINARY_DIR}/jetbackd.service" @ONLY)
configure_file("${JETBACK_SYSTEMD_SOURCE_DIR}/jetback-backup@.service.in"
  "${JETBACK_SYSTEMD_BINARY_DIR}/jetback-backup@.service" @ONLY)
if(IS_ABSOLUTE "${JETBACK_SYSTEMD_UNIT_DIR}")
  set(unitdir "${JETBACK_SYSTEMD_UNIT_DIR}")
else()
  set(unitdir "${prefix}/${JETBACK_SYSTEMD_UNIT_DIR}")
endif()
file(INSTALL
  "${JETBACK_SYSTEMD_BINARY_DIR}/jetbackd.service"
  "${JETBACK_SYSTEMD_BINARY_DIR}/jetback-backup@.service"
  DESTINATION "${unitdir}")
file(INSTALL
  "${JETBACK_SYSTEMD_SOURCE_DIR}/backup.env"
  "${JETBACK_SYSTEMD_SOURCE_DIR}/jetbackd.toml"
  DESTINATION "${JETBACK_CONFIG_DIR}")

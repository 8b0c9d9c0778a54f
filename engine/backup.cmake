# Owned by the streaming backup / restore engine. Paths relative to engine/.
set(JETBACK_BACKUP_SOURCES backup.cc)

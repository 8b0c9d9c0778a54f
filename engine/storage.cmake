# Owned by the storage engine. Paths relative to engine/.
set(JETBACK_STORAGE_SOURCES)

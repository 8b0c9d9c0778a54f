// version.h, from the header cmake/version.cmake writes at build time.
#include "version/version.h"

#include "version_info.h"

namespace jetback {

const char* Version() { return JETBACK_VERSION; }
const char* GitRevision() { return JETBACK_GIT_REVISION; }

std::string VersionLine(const char* program) {
  return std::string(program) + " " + Version() + " (git " + GitRevision() +
         ")";
}

}  // namespace jetback

// File: version/version.h
//
// What `jetbackd --version` and `jetback --version` print: the project
// version and the git revision of the tree it was built from.

#ifndef JETBACK_VERSION_VERSION_H_
#define JETBACK_VERSION_VERSION_H_

#include <string>

namespace jetback {

// "0.1.0"
const char* Version();
// `git describe --always --dirty` of the source tree at build time, or
// "unknown" outside a git checkout.
const char* GitRevision();
// "<program> <version> (git <revision>)"
std::string VersionLine(const char* program);

}  // namespace jetback

#endif  // JETBACK_VERSION_VERSION_H_

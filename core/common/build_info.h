// Facts about this build that change more often than the build configuration: the git commit,
// read at every build (cmake/build_info.cmake), not once at configure time.
#pragma once

namespace gpas {

const char* git_commit();  // "3f2a9c1d0e4b", "3f2a9c1d0e4b+dirty" or "unknown"

}  // namespace gpas

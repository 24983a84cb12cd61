#include "system_error.h"

#include <cerrno>
#include <cstring>

namespace vipd {

SystemError::SystemError(int errnum, std::string syscall, std::string detail)
    : std::runtime_error(syscall + ": " + std::strerror(errnum)),
      errnum_(errnum),
      syscall_(std::move(syscall)),
      detail_(std::move(detail)) {}

void ThrowLastError(const char* syscall) { throw SystemError(errno, syscall); }

}  // namespace vipd

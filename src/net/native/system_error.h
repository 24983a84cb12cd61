#pragma once

#include <stdexcept>
#include <string>

namespace vipd {

// A failed system call or kernel request. It knows nothing of N-API so that the socket code stays
// plain C++; the bindings turn it into a JS Error carrying errno and code.
class SystemError : public std::runtime_error {
 public:
  SystemError(int errnum, std::string syscall, std::string detail = {});

  int errnum() const { return errnum_; }
  const std::string& syscall() const { return syscall_; }
  // What the kernel said beyond the errno (netlink extended ack), or empty.
  const std::string& detail() const { return detail_; }

 private:
  int errnum_;
  std::string syscall_;
  std::string detail_;
};

[[noreturn]] void ThrowLastError(const char* syscall);

}  // namespace vipd

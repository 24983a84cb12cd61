#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace vipd {

// An IPv4 or IPv6 address in network byte order, as netlink carries it.
struct IpAddress {
  sa_family_t family = AF_UNSPEC;
  std::array<uint8_t, 16> bytes{};

  size_t size() const { return family == AF_INET ? 4 : 16; }
  uint8_t maxPrefixLength() const { return family == AF_INET ? 32 : 128; }
  std::string ToString() const;

  static std::optional<IpAddress> Parse(const std::string& text);
  // The family decides how many bytes are read; a shorter attribute is rejected.
  static std::optional<IpAddress> FromBytes(sa_family_t family, const void* data, size_t length);
};

}  // namespace vipd

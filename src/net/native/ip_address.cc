#include "ip_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace vipd {

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes.data(), text, sizeof text);
  return text;
}

std::optional<IpAddress> IpAddress::Parse(const std::string& text) {
  IpAddress address;
  for (sa_family_t family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, text.c_str(), address.bytes.data()) == 1) {
      address.family = family;
      return address;
    }
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::FromBytes(sa_family_t family, const void* data, size_t length) {
  IpAddress address;
  address.family = family;
  if ((family != AF_INET && family != AF_INET6) || length < address.size()) return std::nullopt;
  std::memcpy(address.bytes.data(), data, address.size());
  return address;
}

}  // namespace vipd

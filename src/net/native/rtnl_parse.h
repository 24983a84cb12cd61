#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ip_address.h"

namespace vipd {

// Kernel rtnetlink messages decoded into plain values. Flags, states and lifetimes stay the
// kernel's numbers; the TypeScript wrapper gives them names.

struct LinkInfo {
  int32_t index = 0;
  std::string name;
  std::vector<uint8_t> mac;
  uint32_t mtu = 0;
  uint8_t operstate = 0;
  uint32_t flags = 0;
  // IFLA_INFO_KIND ('veth', 'bridge', 'vlan', …); physical interfaces have none.
  std::optional<std::string> kind;
};

struct AddressInfo {
  int32_t ifindex = 0;
  IpAddress address;
  uint8_t prefixLength = 0;
  uint8_t protocol = 0;
  uint32_t validLifetime = 0;
  uint32_t preferredLifetime = 0;
  uint32_t flags = 0;
  std::string label;
};

struct Nexthop {
  int32_t ifindex = 0;
  std::optional<IpAddress> gateway;
};

struct RouteInfo {
  uint8_t family = 0;
  uint32_t table = 0;
  IpAddress destination;
  uint8_t prefixLength = 0;
  uint8_t type = 0;
  uint8_t protocol = 0;
  uint8_t scope = 0;
  uint32_t priority = 0;
  std::vector<Nexthop> nexthops;
};

// Each returns nullopt for a message of another type or one too short to hold its header.
std::optional<LinkInfo> ParseLink(const nlmsghdr& message);
std::optional<AddressInfo> ParseAddress(const nlmsghdr& message);
std::optional<RouteInfo> ParseRoute(const nlmsghdr& message);

}  // namespace vipd

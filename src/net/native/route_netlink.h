#pragma once

#include <cstdint>
#include <vector>

#include "ip_address.h"
#include "netlink_socket.h"
#include "rtnl_parse.h"

namespace vipd {

struct AddressKey {
  int32_t ifindex = 0;
  IpAddress address;
  uint8_t prefixLength = 0;
};

struct NewAddress {
  AddressKey key;
  uint8_t protocol = 0;
  uint32_t validLifetime = 0;
  uint32_t preferredLifetime = 0;
  bool nodad = false;
  // NLM_F_REPLACE: update an existing address (its lifetimes) instead of failing with EEXIST.
  bool replace = false;
};

// One route of a table, as RTM_DELROUTE names it: the kernel deletes only a route that also has this
// protocol, so a delete never takes another's route to the same destination.
struct RouteKey {
  IpAddress destination;
  uint8_t prefixLength = 0;
  uint32_t table = 0;
  uint8_t protocol = 0;
};

// A unicast route straight out of an interface, with no gateway: what a routing daemon learns from
// the table and announces.
struct NewRoute {
  RouteKey key;
  int32_t ifindex = 0;
  uint8_t scope = 0;
};

// Synchronous rtnetlink requests over one socket kept open for the life of the object.
class RouteNetlink {
 public:
  RouteNetlink();

  std::vector<LinkInfo> ListLinks();
  // AF_UNSPEC lists both families.
  std::vector<AddressInfo> ListAddresses(sa_family_t family);
  std::vector<RouteInfo> ListRoutes(sa_family_t family);
  void AddAddress(const NewAddress& address);
  void DeleteAddress(const AddressKey& key);
  // NLM_F_CREATE | NLM_F_REPLACE: adding the same route again succeeds and changes nothing.
  void AddRoute(const NewRoute& route);
  void DeleteRoute(const RouteKey& key);

 private:
  template <typename Info, typename Header>
  std::vector<Info> Dump(uint16_t type, const Header& header, const char* operation,
                         std::optional<Info> (*parse)(const nlmsghdr&), uint32_t extMask = 0);

  NetlinkSocket socket_;
};

}  // namespace vipd

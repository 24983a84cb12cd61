#include "route_netlink.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cerrno>

#include "system_error.h"

namespace vipd {
namespace {

// A dump races with concurrent changes; the kernel flags that and a fresh dump is consistent.
constexpr int kDumpAttempts = 5;

ifaddrmsg AddressHeader(const AddressKey& key) {
  ifaddrmsg header{};
  header.ifa_family = key.address.family;
  header.ifa_prefixlen = key.prefixLength;
  header.ifa_scope = RT_SCOPE_UNIVERSE;
  header.ifa_index = static_cast<uint32_t>(key.ifindex);
  return header;
}

// IFA_LOCAL and IFA_ADDRESS equal: an ordinary address, with neither peer nor broadcast.
void AddAddressAttributes(NetlinkRequest& request, const AddressKey& key) {
  request.AddAttribute(IFA_LOCAL, key.address.bytes.data(), key.address.size());
  request.AddAttribute(IFA_ADDRESS, key.address.bytes.data(), key.address.size());
}

rtmsg RouteHeader(const RouteKey& key) {
  rtmsg header{};
  header.rtm_family = key.destination.family;
  header.rtm_dst_len = key.prefixLength;
  // rtm_table has 8 bits; a larger table id goes in RTA_TABLE, with RT_TABLE_UNSPEC here.
  header.rtm_table = static_cast<uint8_t>(key.table < 256 ? key.table : static_cast<uint32_t>(RT_TABLE_UNSPEC));
  header.rtm_protocol = key.protocol;
  header.rtm_type = RTN_UNICAST;
  return header;
}

void AddRouteAttributes(NetlinkRequest& request, const RouteKey& key) {
  request.AddAttribute(RTA_DST, key.destination.bytes.data(), key.destination.size());
  request.AddAttribute(RTA_TABLE, key.table);
}

}  // namespace

RouteNetlink::RouteNetlink() : socket_(NetlinkSocket::Mode::kRequests) {}

template <typename Info, typename Header>
std::vector<Info> RouteNetlink::Dump(uint16_t type, const Header& header, const char* operation,
                                     std::optional<Info> (*parse)(const nlmsghdr&), uint32_t extMask) {
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    NetlinkRequest request(type, NLM_F_REQUEST | NLM_F_DUMP, header);
    if (extMask != 0) request.AddAttribute(IFLA_EXT_MASK, extMask);
    std::vector<Info> results;
    const bool consistent = socket_.Exchange(request, operation, [&](const nlmsghdr& reply) {
      if (auto info = parse(reply)) results.push_back(std::move(*info));
    });
    if (consistent) return results;
  }
  throw SystemError(EAGAIN, operation, "dump kept being interrupted by concurrent changes");
}

std::vector<LinkInfo> RouteNetlink::ListLinks() {
  ifinfomsg header{};
  header.ifi_family = AF_UNSPEC;
  // Statistics are most of a link dump and nobody here reads them.
  return Dump<LinkInfo>(RTM_GETLINK, header, "RTM_GETLINK", ParseLink, RTEXT_FILTER_SKIP_STATS);
}

std::vector<AddressInfo> RouteNetlink::ListAddresses(sa_family_t family) {
  ifaddrmsg header{};
  header.ifa_family = family;
  return Dump<AddressInfo>(RTM_GETADDR, header, "RTM_GETADDR", ParseAddress);
}

std::vector<RouteInfo> RouteNetlink::ListRoutes(sa_family_t family) {
  rtmsg header{};
  header.rtm_family = family;
  return Dump<RouteInfo>(RTM_GETROUTE, header, "RTM_GETROUTE", ParseRoute);
}

void RouteNetlink::AddAddress(const NewAddress& address) {
  const uint16_t flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (address.replace ? NLM_F_REPLACE : NLM_F_EXCL);
  const uint32_t addressFlags = address.nodad ? IFA_F_NODAD : 0;
  ifaddrmsg header = AddressHeader(address.key);
  header.ifa_flags = static_cast<uint8_t>(addressFlags);
  NetlinkRequest request(RTM_NEWADDR, flags, header);
  AddAddressAttributes(request, address.key);
  request.AddAttribute(IFA_FLAGS, addressFlags);
  request.AddAttribute(IFA_PROTO, address.protocol);
  ifa_cacheinfo lifetimes{};
  lifetimes.ifa_valid = address.validLifetime;
  lifetimes.ifa_prefered = address.preferredLifetime;
  request.AddAttribute(IFA_CACHEINFO, lifetimes);
  socket_.Exchange(request, "RTM_NEWADDR", [](const nlmsghdr&) {});
}

void RouteNetlink::DeleteAddress(const AddressKey& key) {
  NetlinkRequest request(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, AddressHeader(key));
  AddAddressAttributes(request, key);
  socket_.Exchange(request, "RTM_DELADDR", [](const nlmsghdr&) {});
}

void RouteNetlink::AddRoute(const NewRoute& route) {
  rtmsg header = RouteHeader(route.key);
  header.rtm_scope = route.scope;
  NetlinkRequest request(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, header);
  AddRouteAttributes(request, route.key);
  request.AddAttribute(RTA_OIF, static_cast<uint32_t>(route.ifindex));
  socket_.Exchange(request, "RTM_NEWROUTE", [](const nlmsghdr&) {});
}

void RouteNetlink::DeleteRoute(const RouteKey& key) {
  rtmsg header = RouteHeader(key);
  // RT_SCOPE_NOWHERE matches a route of any scope; the protocol in the header must match (both
  // families compare it when it is not 0), and no interface is named, so the route goes wherever
  // it points.
  header.rtm_scope = RT_SCOPE_NOWHERE;
  NetlinkRequest request(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, header);
  AddRouteAttributes(request, key);
  socket_.Exchange(request, "RTM_DELROUTE", [](const nlmsghdr&) {});
}

}  // namespace vipd

#include "rtnl_parse.h"

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "netlink_message.h"

namespace vipd {
namespace {

// The lifetime the kernel reports for an address that never expires.
constexpr uint32_t kForever = 0xffffffff;

template <typename Header>
const Header* FamilyHeader(const nlmsghdr& message) {
  if (message.nlmsg_len < NLMSG_LENGTH(sizeof(Header))) return nullptr;
  return static_cast<const Header*>(NLMSG_DATA(&message));
}

std::optional<IpAddress> AddressAttribute(const Attributes& attributes, uint16_t type, sa_family_t family) {
  auto view = attributes.Get(type);
  if (!view) return std::nullopt;
  return IpAddress::FromBytes(family, view->data, view->length);
}

std::vector<Nexthop> ParseMultipath(const AttributeView& view, sa_family_t family) {
  std::vector<Nexthop> nexthops;
  const auto* hop = reinterpret_cast<const rtnexthop*>(view.data);
  int remaining = static_cast<int>(view.length);
  while (RTNH_OK(hop, remaining)) {
    Attributes attributes(RTNH_DATA(hop), hop->rtnh_len - RTNH_LENGTH(0));
    nexthops.push_back(Nexthop{hop->rtnh_ifindex, AddressAttribute(attributes, RTA_GATEWAY, family)});
    remaining -= static_cast<int>(RTNH_ALIGN(hop->rtnh_len));
    hop = RTNH_NEXT(hop);
  }
  return nexthops;
}

}  // namespace

std::optional<LinkInfo> ParseLink(const nlmsghdr& message) {
  if (message.nlmsg_type != RTM_NEWLINK && message.nlmsg_type != RTM_DELLINK) return std::nullopt;
  const auto* header = FamilyHeader<ifinfomsg>(message);
  if (header == nullptr) return std::nullopt;
  const Attributes attributes = Attributes::Of(message, sizeof(ifinfomsg));

  LinkInfo link;
  link.index = header->ifi_index;
  link.flags = header->ifi_flags;
  link.name = attributes.String(IFLA_IFNAME).value_or("");
  if (auto mac = attributes.Get(IFLA_ADDRESS)) link.mac.assign(mac->data, mac->data + mac->length);
  link.mtu = attributes.U32(IFLA_MTU).value_or(0);
  link.operstate = attributes.U8(IFLA_OPERSTATE).value_or(IF_OPER_UNKNOWN);
  if (auto linkInfo = attributes.Get(IFLA_LINKINFO)) {
    link.kind = Attributes(linkInfo->data, linkInfo->length).String(IFLA_INFO_KIND);
  }
  return link;
}

std::optional<AddressInfo> ParseAddress(const nlmsghdr& message) {
  if (message.nlmsg_type != RTM_NEWADDR && message.nlmsg_type != RTM_DELADDR) return std::nullopt;
  const auto* header = FamilyHeader<ifaddrmsg>(message);
  if (header == nullptr) return std::nullopt;
  const Attributes attributes = Attributes::Of(message, sizeof(ifaddrmsg));

  // IFA_ADDRESS is the peer on point-to-point links; IFA_LOCAL, when present, is our own.
  auto address = AddressAttribute(attributes, IFA_LOCAL, header->ifa_family);
  if (!address) address = AddressAttribute(attributes, IFA_ADDRESS, header->ifa_family);
  if (!address) return std::nullopt;

  AddressInfo info;
  info.ifindex = static_cast<int32_t>(header->ifa_index);
  info.address = *address;
  info.prefixLength = header->ifa_prefixlen;
  info.protocol = attributes.U8(IFA_PROTO).value_or(0);
  info.flags = attributes.U32(IFA_FLAGS).value_or(header->ifa_flags);
  info.label = attributes.String(IFA_LABEL).value_or("");
  const auto cacheinfo = attributes.Struct<ifa_cacheinfo>(IFA_CACHEINFO);
  info.validLifetime = cacheinfo ? cacheinfo->ifa_valid : kForever;
  info.preferredLifetime = cacheinfo ? cacheinfo->ifa_prefered : kForever;
  return info;
}

std::optional<RouteInfo> ParseRoute(const nlmsghdr& message) {
  if (message.nlmsg_type != RTM_NEWROUTE && message.nlmsg_type != RTM_DELROUTE) return std::nullopt;
  const auto* header = FamilyHeader<rtmsg>(message);
  if (header == nullptr) return std::nullopt;
  const Attributes attributes = Attributes::Of(message, sizeof(rtmsg));
  const sa_family_t family = header->rtm_family;

  RouteInfo route;
  route.family = header->rtm_family;
  route.table = attributes.U32(RTA_TABLE).value_or(header->rtm_table);
  route.prefixLength = header->rtm_dst_len;
  route.type = header->rtm_type;
  route.protocol = header->rtm_protocol;
  route.scope = header->rtm_scope;
  route.priority = attributes.U32(RTA_PRIORITY).value_or(0);
  // A default route carries no RTA_DST: its destination is the all-zero address.
  route.destination = AddressAttribute(attributes, RTA_DST, family).value_or(IpAddress{family, {}});
  if (auto multipath = attributes.Get(RTA_MULTIPATH)) {
    route.nexthops = ParseMultipath(*multipath, family);
  } else if (auto oif = attributes.U32(RTA_OIF)) {
    route.nexthops.push_back(Nexthop{static_cast<int32_t>(*oif), AddressAttribute(attributes, RTA_GATEWAY, family)});
  }
  return route;
}

}  // namespace vipd

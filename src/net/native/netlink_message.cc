#include "netlink_message.h"

#include <algorithm>

namespace vipd {

NetlinkRequest::NetlinkRequest(uint16_t type, uint16_t flags) : buffer_(NLMSG_HDRLEN) {
  header()->nlmsg_type = type;
  header()->nlmsg_flags = flags;
}

void NetlinkRequest::Append(const void* data, size_t length) {
  const size_t offset = buffer_.size();
  buffer_.resize(offset + NLMSG_ALIGN(length));
  std::memcpy(buffer_.data() + offset, data, length);
}

void NetlinkRequest::AddAttribute(uint16_t type, const void* data, size_t length) {
  rtattr attribute{};
  attribute.rta_type = type;
  attribute.rta_len = static_cast<uint16_t>(RTA_LENGTH(length));
  const size_t offset = buffer_.size();
  buffer_.resize(offset + RTA_SPACE(length));
  std::memcpy(buffer_.data() + offset, &attribute, sizeof attribute);
  std::memcpy(buffer_.data() + offset + RTA_LENGTH(0), data, length);
}

const nlmsghdr* NetlinkRequest::Finish(uint32_t sequence) {
  header()->nlmsg_len = static_cast<uint32_t>(buffer_.size());
  header()->nlmsg_seq = sequence;
  header()->nlmsg_pid = 0;
  return header();
}

Attributes::Attributes(const void* data, size_t length) {
  const auto* attribute = static_cast<const rtattr*>(data);
  int remaining = static_cast<int>(length);
  for (; RTA_OK(attribute, remaining); attribute = RTA_NEXT(attribute, remaining)) {
    const uint16_t type = attribute->rta_type & NLA_TYPE_MASK;
    if (type >= byType_.size()) byType_.resize(type + 1);
    byType_[type] = AttributeView{static_cast<const uint8_t*>(RTA_DATA(attribute)), RTA_PAYLOAD(attribute)};
  }
}

Attributes Attributes::Of(const nlmsghdr& message, size_t familyHeaderSize) {
  const size_t start = NLMSG_ALIGN(familyHeaderSize);
  const size_t payload = message.nlmsg_len >= NLMSG_LENGTH(start) ? message.nlmsg_len - NLMSG_LENGTH(start) : 0;
  return Attributes(static_cast<const uint8_t*>(NLMSG_DATA(&message)) + start, payload);
}

std::optional<AttributeView> Attributes::Get(uint16_t type) const {
  return type < byType_.size() ? byType_[type] : std::nullopt;
}

std::optional<uint8_t> Attributes::U8(uint16_t type) const { return Struct<uint8_t>(type); }

std::optional<uint32_t> Attributes::U32(uint16_t type) const { return Struct<uint32_t>(type); }

std::optional<std::string> Attributes::String(uint16_t type) const {
  auto view = Get(type);
  if (!view) return std::nullopt;
  const auto* text = reinterpret_cast<const char*>(view->data);
  return std::string(text, std::find(text, text + view->length, '\0'));
}

}  // namespace vipd

#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace vipd {

// One rtnetlink request: the netlink header, the family header (ifinfomsg, ifaddrmsg, rtmsg) and
// attributes, laid out with the alignment the kernel expects.
class NetlinkRequest {
 public:
  template <typename FamilyHeader>
  NetlinkRequest(uint16_t type, uint16_t flags, const FamilyHeader& header) : NetlinkRequest(type, flags) {
    Append(&header, sizeof header);
  }

  void AddAttribute(uint16_t type, const void* data, size_t length);
  template <typename T>
  void AddAttribute(uint16_t type, const T& value) {
    AddAttribute(type, &value, sizeof value);
  }

  // Stamps the sequence number and returns the finished message.
  const nlmsghdr* Finish(uint32_t sequence);
  size_t size() const { return buffer_.size(); }

 private:
  NetlinkRequest(uint16_t type, uint16_t flags);
  void Append(const void* data, size_t length);
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buffer_.data()); }

  std::vector<uint8_t> buffer_;
};

// A view of one attribute's payload.
struct AttributeView {
  const uint8_t* data;
  size_t length;
};

// The attributes that follow a family header, indexed by type. Nested-attribute flag bits are
// masked off so that callers look attributes up by their plain type.
class Attributes {
 public:
  Attributes(const void* data, size_t length);
  // The attributes of a message whose family header has the given size.
  static Attributes Of(const nlmsghdr& message, size_t familyHeaderSize);

  std::optional<AttributeView> Get(uint16_t type) const;
  std::optional<uint8_t> U8(uint16_t type) const;
  std::optional<uint32_t> U32(uint16_t type) const;
  std::optional<std::string> String(uint16_t type) const;

  template <typename T>
  std::optional<T> Struct(uint16_t type) const {
    auto view = Get(type);
    if (!view || view->length < sizeof(T)) return std::nullopt;
    T value;
    std::memcpy(&value, view->data, sizeof value);
    return value;
  }

 private:
  std::vector<std::optional<AttributeView>> byType_;
};

}  // namespace vipd

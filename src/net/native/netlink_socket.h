#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "netlink_message.h"
#include "unique_fd.h"

namespace vipd {

// One NETLINK_ROUTE socket: either a blocking one for request/acknowledgement exchanges, or a
// non-blocking one subscribed to multicast groups and drained from the event loop.
class NetlinkSocket {
 public:
  enum class Mode { kRequests, kNotifications };
  using MessageHandler = std::function<void(const nlmsghdr&)>;

  explicit NetlinkSocket(Mode mode);

  int fd() const { return fd_.get(); }

  void Subscribe(unsigned group);

  // Sends the request and hands every reply to onReply until the kernel's acknowledgement or the
  // end of a dump. A negative acknowledgement is thrown as SystemError with the kernel's errno and
  // extended-ack message, named after `operation`. Returns false when the kernel flagged a dump
  // as interrupted by a concurrent change, so the caller can ask again.
  bool Exchange(NetlinkRequest& request, const char* operation, const MessageHandler& onReply);

  // Reads one queued datagram of notifications without blocking; false when none was queued.
  bool ReceiveNotifications(const MessageHandler& onMessage);

 private:
  // Reads one datagram from the kernel into buffer_; 0 when nothing is queued.
  size_t Receive();

  UniqueFd fd_;
  uint32_t portId_ = 0;
  uint32_t sequence_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace vipd

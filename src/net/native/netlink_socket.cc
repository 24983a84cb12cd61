#include "netlink_socket.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <ctime>

#include "system_error.h"

namespace vipd {
namespace {

// Ample for any rtnetlink dump datagram; larger ones are measured with MSG_PEEK first.
constexpr size_t kInitialBufferSize = 32768;
// The kernel answers requests at once; this only guards the event loop against waiting forever.
constexpr time_t kReplyTimeoutSeconds = 5;
// Bursts of address and link changes must not overflow the notification queue.
constexpr int kNotificationBufferBytes = 1 << 20;

void SetOption(int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) < 0) ThrowLastError(what);
}

std::string ExtendedAckMessage(const nlmsghdr& message) {
  if (!(message.nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(&message));
  // With NETLINK_CAP_ACK the kernel returns only the header of our request, not its payload.
  size_t offset = sizeof(nlmsgerr);
  if (!(message.nlmsg_flags & NLM_F_CAPPED)) offset += error->msg.nlmsg_len - NLMSG_HDRLEN;
  const size_t payload = message.nlmsg_len - NLMSG_HDRLEN;
  if (offset >= payload) return {};
  Attributes attributes(reinterpret_cast<const uint8_t*>(error) + offset, payload - offset);
  return attributes.String(NLMSGERR_ATTR_MSG).value_or("");
}

}  // namespace

NetlinkSocket::NetlinkSocket(Mode mode) : buffer_(kInitialBufferSize) {
  const int flags = SOCK_RAW | SOCK_CLOEXEC | (mode == Mode::kNotifications ? SOCK_NONBLOCK : 0);
  fd_ = UniqueFd(socket(AF_NETLINK, flags, NETLINK_ROUTE));
  if (!fd_.valid()) ThrowLastError("socket(AF_NETLINK)");

  if (mode == Mode::kRequests) {
    SetOption(fd(), SOL_NETLINK, NETLINK_EXT_ACK, 1, "setsockopt(NETLINK_EXT_ACK)");
    SetOption(fd(), SOL_NETLINK, NETLINK_CAP_ACK, 1, "setsockopt(NETLINK_CAP_ACK)");
    timeval timeout{kReplyTimeoutSeconds, 0};
    if (setsockopt(fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) < 0) {
      ThrowLastError("setsockopt(SO_RCVTIMEO)");
    }
  } else if (setsockopt(fd(), SOL_SOCKET, SO_RCVBUFFORCE, &kNotificationBufferBytes,
                        sizeof kNotificationBufferBytes) < 0) {
    // Without CAP_NET_ADMIN the size is capped at net.core.rmem_max, which still works.
    SetOption(fd(), SOL_SOCKET, SO_RCVBUF, kNotificationBufferBytes, "setsockopt(SO_RCVBUF)");
  }

  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(fd(), reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) ThrowLastError("bind(AF_NETLINK)");
  socklen_t length = sizeof local;
  if (getsockname(fd(), reinterpret_cast<sockaddr*>(&local), &length) < 0) ThrowLastError("getsockname");
  portId_ = local.nl_pid;
}

void NetlinkSocket::Subscribe(unsigned group) {
  SetOption(fd(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, static_cast<int>(group),
            "setsockopt(NETLINK_ADD_MEMBERSHIP)");
}

size_t NetlinkSocket::Receive() {
  for (;;) {
    const ssize_t pending = recv(fd(), buffer_.data(), buffer_.size(), MSG_PEEK | MSG_TRUNC);
    if (pending < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      ThrowLastError("recv(AF_NETLINK)");
    }
    if (static_cast<size_t>(pending) > buffer_.size()) buffer_.resize(static_cast<size_t>(pending));

    sockaddr_nl sender{};
    socklen_t senderLength = sizeof sender;
    const ssize_t received =
        recvfrom(fd(), buffer_.data(), buffer_.size(), 0, reinterpret_cast<sockaddr*>(&sender), &senderLength);
    if (received < 0) {
      if (errno == EINTR) continue;
      ThrowLastError("recv(AF_NETLINK)");
    }
    // Only the kernel speaks for rtnetlink; anything a process sends to our port is ignored.
    if (sender.nl_pid == 0) return static_cast<size_t>(received);
  }
}

bool NetlinkSocket::Exchange(NetlinkRequest& request, const char* operation, const MessageHandler& onReply) {
  const uint32_t sequence = ++sequence_;
  const nlmsghdr* message = request.Finish(sequence);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(fd(), message, request.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) ThrowLastError("sendto(AF_NETLINK)");

  bool consistent = true;
  for (;;) {
    const size_t received = Receive();
    if (received == 0) throw SystemError(ETIMEDOUT, operation, "no reply from the kernel");
    int remaining = static_cast<int>(received);
    for (auto* reply = reinterpret_cast<const nlmsghdr*>(buffer_.data()); NLMSG_OK(reply, remaining);
         reply = NLMSG_NEXT(reply, remaining)) {
      // Replies to an earlier request that timed out are not ours to read.
      if (reply->nlmsg_seq != sequence || reply->nlmsg_pid != portId_) continue;
      if (reply->nlmsg_flags & NLM_F_DUMP_INTR) consistent = false;
      if (reply->nlmsg_type == NLMSG_ERROR || reply->nlmsg_type == NLMSG_DONE) {
        // Both carry an int error first; for NLMSG_ERROR it is the start of struct nlmsgerr.
        int error = 0;
        if (reply->nlmsg_len >= NLMSG_LENGTH(sizeof error)) std::memcpy(&error, NLMSG_DATA(reply), sizeof error);
        if (error != 0) {
          const bool acknowledgement = reply->nlmsg_type == NLMSG_ERROR;
          throw SystemError(-error, operation, acknowledgement ? ExtendedAckMessage(*reply) : "");
        }
        return consistent;
      }
      onReply(*reply);
    }
  }
}

bool NetlinkSocket::ReceiveNotifications(const MessageHandler& onMessage) {
  const size_t received = Receive();
  if (received == 0) return false;
  int remaining = static_cast<int>(received);
  for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer_.data()); NLMSG_OK(message, remaining);
       message = NLMSG_NEXT(message, remaining)) {
    onMessage(*message);
  }
  return true;
}

}  // namespace vipd

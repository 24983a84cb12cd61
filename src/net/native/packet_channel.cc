#include "packet_channel.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "system_error.h"

namespace vipd {
namespace {

constexpr uint32_t kEtherTypeOffset = 12;
constexpr uint32_t kIpv6NextHeaderOffset = ETH_HLEN + 6;
constexpr uint32_t kIcmpv6TypeOffset = ETH_HLEN + 40;
constexpr uint32_t kNeighbourAdvertisement = 136;
constexpr uint32_t kWholeFrame = 0xffff;

// ARP (requests and replies both name their sender, so both can claim an address) and neighbour
// advertisements; nothing else. Neighbour solicitations ask and never claim, and every one on the
// LAN would otherwise wake every agent: a client resolving thousands of VIPs cost each of them a
// share of a core. Jump offsets count instructions after the jump: accept is 7, reject 8.
constexpr sock_filter kNeighbourDiscoveryFilter[] = {
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, kEtherTypeOffset),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_ARP, 5, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 5),
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kIpv6NextHeaderOffset),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMPV6, 0, 3),
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kIcmpv6TypeOffset),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kNeighbourAdvertisement, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, kWholeFrame),
    BPF_STMT(BPF_RET | BPF_K, 0),
};

}  // namespace

PacketChannel::PacketChannel(int32_t ifindex) : ifindex_(ifindex) {
  // Protocol 0 receives nothing until bind, so no unfiltered frame is queued before the filter.
  fd_ = UniqueFd(socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_.valid()) ThrowLastError("socket(AF_PACKET)");

  sock_fprog program{};
  program.len = sizeof kNeighbourDiscoveryFilter / sizeof kNeighbourDiscoveryFilter[0];
  program.filter = const_cast<sock_filter*>(kNeighbourDiscoveryFilter);
  if (setsockopt(fd(), SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) < 0) {
    ThrowLastError("setsockopt(SO_ATTACH_FILTER)");
  }

  sockaddr_ll local{};
  local.sll_family = AF_PACKET;
  local.sll_protocol = htons(ETH_P_ALL);
  local.sll_ifindex = ifindex;
  if (bind(fd(), reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) ThrowLastError("bind(AF_PACKET)");
}

void PacketChannel::Send(const uint8_t* frame, size_t length) {
  if (length < ETH_HLEN) throw SystemError(EINVAL, "sendto(AF_PACKET)", "shorter than an Ethernet header");
  sockaddr_ll destination{};
  destination.sll_family = AF_PACKET;
  destination.sll_ifindex = ifindex_;
  std::memcpy(&destination.sll_protocol, frame + kEtherTypeOffset, sizeof destination.sll_protocol);
  destination.sll_halen = ETH_ALEN;
  std::memcpy(destination.sll_addr, frame, ETH_ALEN);
  ssize_t sent;
  do {
    sent = sendto(fd(), frame, length, 0, reinterpret_cast<sockaddr*>(&destination), sizeof destination);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) ThrowLastError("sendto(AF_PACKET)");
}

std::optional<ReceivedFrame> PacketChannel::Receive(std::vector<uint8_t>& buffer) {
  for (;;) {
    sockaddr_ll source{};
    socklen_t sourceLength = sizeof source;
    const ssize_t received =
        recvfrom(fd(), buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&source), &sourceLength);
    if (received < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
      ThrowLastError("recvfrom(AF_PACKET)");
    }
    return ReceivedFrame{static_cast<size_t>(received), source.sll_ifindex, source.sll_pkttype};
  }
}

}  // namespace vipd

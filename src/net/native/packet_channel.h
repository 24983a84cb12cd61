#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "unique_fd.h"

namespace vipd {

struct ReceivedFrame {
  size_t length = 0;
  int32_t ifindex = 0;
  // PACKET_HOST, _BROADCAST, _MULTICAST, _OTHERHOST, or _OUTGOING for a frame this host sent (the
  // kernel's own ARP replies, other sockets' frames).
  uint8_t pktType = 0;
};

// A non-blocking AF_PACKET raw socket bound to one interface. A classic BPF filter
// (packet_channel.cc) lets through every ARP frame, and IPv6 frames whose next header is ICMPv6 of
// type 136, neighbour advertisements; everything else is dropped in the kernel, neighbour
// solicitations included (they ask and never claim), so the event loop never wakes for ordinary
// traffic. The filter sees outgoing frames as well as incoming ones.
class PacketChannel {
 public:
  explicit PacketChannel(int32_t ifindex);

  int fd() const { return fd_.get(); }

  // The frame is a whole Ethernet frame; its destination MAC and EtherType address the send.
  void Send(const uint8_t* frame, size_t length);
  // Reads one queued frame into buffer; nullopt when none is queued.
  std::optional<ReceivedFrame> Receive(std::vector<uint8_t>& buffer);

 private:
  UniqueFd fd_;
  int32_t ifindex_;
};

}  // namespace vipd

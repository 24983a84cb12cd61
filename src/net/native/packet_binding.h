#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "packet_channel.h"
#include "poll_watcher.h"

namespace vipd {

// JS class PacketSocket: new PacketSocket(ifindex) opens the AF_PACKET socket; send(frame) writes a
// whole Ethernet frame; start(callback) delivers callback(error, frame, { ifindex, pktType }) for
// every frame the socket's filter passes (ARP and neighbour advertisements, see packet_channel.h);
// close() ends both.
class PacketBinding : public Napi::ObjectWrap<PacketBinding> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit PacketBinding(const Napi::CallbackInfo& info);

 private:
  void Send(const Napi::CallbackInfo& info);
  void Start(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  void OnReadable(int status);
  void Deliver(std::initializer_list<napi_value> arguments);

  PacketChannel& Open(Napi::Env env);

  std::unique_ptr<PacketChannel> channel_;
  std::unique_ptr<PollWatcher> watcher_;
  Napi::FunctionReference callback_;
  std::vector<uint8_t> buffer_;
};

}  // namespace vipd

#include <napi.h>

#include "monitor_binding.h"
#include "netlink_binding.h"
#include "packet_binding.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Netlink", vipd::NetlinkBinding::Define(env));
  exports.Set("NetlinkMonitor", vipd::MonitorBinding::Define(env));
  exports.Set("PacketSocket", vipd::PacketBinding::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(vipd_net, Init)

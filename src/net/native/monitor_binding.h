#pragma once

#include <napi.h>

#include <memory>

#include "netlink_socket.h"
#include "poll_watcher.h"

namespace vipd {

// JS class NetlinkMonitor: link, address and default-route notifications delivered on the event loop.
// new NetlinkMonitor(callback) subscribes at once; callback(error, event) gets each change, an
// { type: 'overrun' } event when the kernel dropped notifications, or an error.
class MonitorBinding : public Napi::ObjectWrap<MonitorBinding> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit MonitorBinding(const Napi::CallbackInfo& info);

 private:
  void Close(const Napi::CallbackInfo& info);
  void CloseNow();
  void OnReadable(int status);
  void Deliver(Napi::Value error, Napi::Value event);
  void DeliverOverrun(Napi::Env env);
  Napi::Value EventToJs(Napi::Env env, const nlmsghdr& message);

  std::unique_ptr<NetlinkSocket> socket_;
  std::unique_ptr<PollWatcher> watcher_;
  Napi::FunctionReference callback_;
};

}  // namespace vipd

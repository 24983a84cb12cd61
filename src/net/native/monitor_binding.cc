#include "monitor_binding.h"

#include <linux/rtnetlink.h>

#include <cerrno>

#include "js_errors.h"
#include "js_values.h"
#include "rtnl_parse.h"

namespace vipd {
namespace {

// Drains at most this many datagrams per wake-up so a storm cannot starve the rest of the loop;
// the level-triggered poll wakes again for the remainder.
constexpr int kDatagramsPerWakeup = 64;

}  // namespace

Napi::Function MonitorBinding::Define(Napi::Env env) {
  return DefineClass(env, "NetlinkMonitor", {InstanceMethod<&MonitorBinding::Close>("close")});
}

MonitorBinding::MonitorBinding(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MonitorBinding>(info) {
  const Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "expected a callback");
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  uv_loop_t* loop = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &loop));
  WithJsErrors(env, [&] {
    socket_ = std::make_unique<NetlinkSocket>(NetlinkSocket::Mode::kNotifications);
    for (unsigned group : {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE,
                           RTNLGRP_IPV6_ROUTE}) {
      socket_->Subscribe(group);
    }
    watcher_ = std::make_unique<PollWatcher>(loop, socket_->fd(), [this](int status) { OnReadable(status); });
  });
  // The monitor stays alive while it watches, even with no JS reference left to it.
  Ref();
}

void MonitorBinding::Close(const Napi::CallbackInfo&) { CloseNow(); }

void MonitorBinding::CloseNow() {
  if (!socket_) return;
  watcher_.reset();
  socket_.reset();
  Unref();
}

void MonitorBinding::Deliver(Napi::Value error, Napi::Value event) {
  CallFromEventLoop(Env(), callback_, Value(), {error, event});
}

void MonitorBinding::DeliverOverrun(Napi::Env env) {
  Napi::Object overrun = Napi::Object::New(env);
  overrun.Set("type", "overrun");
  Deliver(env.Null(), overrun);
}

Napi::Value MonitorBinding::EventToJs(Napi::Env env, const nlmsghdr& message) {
  const bool added = message.nlmsg_type == RTM_NEWLINK || message.nlmsg_type == RTM_NEWADDR ||
                     message.nlmsg_type == RTM_NEWROUTE;
  Napi::Object event;
  if (auto link = ParseLink(message)) {
    event = LinkToJs(env, *link);
    event.Set("type", "link");
  } else if (auto address = ParseAddress(message)) {
    event = AddressToJs(env, *address);
    event.Set("type", "address");
  } else if (auto route = ParseRoute(message)) {
    // Only default routes: they decide the VIP interface, and the kernel does not put one back when
    // its interface comes up again. Every other route change (a pod's, on a busy node) would only
    // wake the event loop for nothing.
    if (route->prefixLength != 0) return env.Undefined();
    // Nested: a route has a type of its own (RTN_*).
    event = Napi::Object::New(env);
    event.Set("route", RouteToJs(env, *route));
    event.Set("type", "route");
  } else {
    return env.Undefined();
  }
  event.Set("action", added ? "new" : "del");
  return event;
}

void MonitorBinding::OnReadable(int status) {
  const Napi::Env env = Env();
  Napi::HandleScope scope(env);
  // Holds the object for the whole drain even if the callback closes it.
  [[maybe_unused]] const Napi::Object self = Value();
  if (status < 0 && -status == ENOBUFS) {
    // The kernel dropped notifications and flagged the socket; the watch goes on.
    DeliverOverrun(env);
  } else if (status < 0) {
    Deliver(ToJsError(env, SystemError(-status, "poll(AF_NETLINK)")).Value(), env.Undefined());
    return;
  }
  for (int datagram = 0; datagram < kDatagramsPerWakeup && socket_; ++datagram) {
    std::vector<Napi::Value> events;
    try {
      if (!socket_->ReceiveNotifications([&](const nlmsghdr& message) {
            Napi::Value event = EventToJs(env, message);
            if (!event.IsUndefined()) events.push_back(event);
          })) {
        return;
      }
    } catch (const SystemError& error) {
      if (error.errnum() == ENOBUFS) {
        DeliverOverrun(env);
        continue;
      }
      Deliver(ToJsError(env, error).Value(), env.Undefined());
      return;
    }
    for (const Napi::Value& event : events) {
      if (!socket_) return;
      Deliver(env.Null(), event);
    }
  }
}

}  // namespace vipd

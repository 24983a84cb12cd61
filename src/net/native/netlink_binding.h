#pragma once

#include <napi.h>

#include <memory>

#include "route_netlink.h"

namespace vipd {

// JS class Netlink: synchronous rtnetlink requests in the process's network namespace.
class NetlinkBinding : public Napi::ObjectWrap<NetlinkBinding> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NetlinkBinding(const Napi::CallbackInfo& info);

 private:
  Napi::Value ListLinks(const Napi::CallbackInfo& info);
  Napi::Value ListAddresses(const Napi::CallbackInfo& info);
  Napi::Value ListRoutes(const Napi::CallbackInfo& info);
  void AddAddress(const Napi::CallbackInfo& info);
  void DeleteAddress(const Napi::CallbackInfo& info);
  void AddRoute(const Napi::CallbackInfo& info);
  void DeleteRoute(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);

  RouteNetlink& Open(Napi::Env env);

  std::unique_ptr<RouteNetlink> netlink_;
};

}  // namespace vipd

#include "netlink_binding.h"

#include "js_errors.h"
#include "js_values.h"

namespace vipd {
namespace {

template <typename Info, typename Convert>
Napi::Array ToArray(Napi::Env env, const std::vector<Info>& items, Convert convert) {
  Napi::Array array = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); ++i) array.Set(static_cast<uint32_t>(i), convert(env, items[i]));
  return array;
}

Napi::Object ObjectArgument(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "expected an options object");
  return info[0].As<Napi::Object>();
}

}  // namespace

Napi::Function NetlinkBinding::Define(Napi::Env env) {
  return DefineClass(env, "Netlink",
                     {
                         InstanceMethod<&NetlinkBinding::ListLinks>("listLinks"),
                         InstanceMethod<&NetlinkBinding::ListAddresses>("listAddresses"),
                         InstanceMethod<&NetlinkBinding::ListRoutes>("listRoutes"),
                         InstanceMethod<&NetlinkBinding::AddAddress>("addAddress"),
                         InstanceMethod<&NetlinkBinding::DeleteAddress>("deleteAddress"),
                         InstanceMethod<&NetlinkBinding::AddRoute>("addRoute"),
                         InstanceMethod<&NetlinkBinding::DeleteRoute>("deleteRoute"),
                         InstanceMethod<&NetlinkBinding::Close>("close"),
                     });
}

NetlinkBinding::NetlinkBinding(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkBinding>(info) {
  netlink_ = WithJsErrors(info.Env(), [] { return std::make_unique<RouteNetlink>(); });
}

RouteNetlink& NetlinkBinding::Open(Napi::Env env) {
  if (!netlink_) throw Napi::Error::New(env, "the netlink socket is closed");
  return *netlink_;
}

Napi::Value NetlinkBinding::ListLinks(const Napi::CallbackInfo& info) {
  const auto links = WithJsErrors(info.Env(), [&] { return Open(info.Env()).ListLinks(); });
  return ToArray(info.Env(), links, LinkToJs);
}

Napi::Value NetlinkBinding::ListAddresses(const Napi::CallbackInfo& info) {
  const sa_family_t family = FamilyFromJs(info[0]);
  const auto addresses = WithJsErrors(info.Env(), [&] { return Open(info.Env()).ListAddresses(family); });
  return ToArray(info.Env(), addresses, AddressToJs);
}

Napi::Value NetlinkBinding::ListRoutes(const Napi::CallbackInfo& info) {
  const sa_family_t family = FamilyFromJs(info[0]);
  const auto routes = WithJsErrors(info.Env(), [&] { return Open(info.Env()).ListRoutes(family); });
  return ToArray(info.Env(), routes, RouteToJs);
}

void NetlinkBinding::AddAddress(const Napi::CallbackInfo& info) {
  const NewAddress address = NewAddressFromJs(ObjectArgument(info));
  WithJsErrors(info.Env(), [&] { Open(info.Env()).AddAddress(address); });
}

void NetlinkBinding::DeleteAddress(const Napi::CallbackInfo& info) {
  const AddressKey key = AddressKeyFromJs(ObjectArgument(info));
  WithJsErrors(info.Env(), [&] { Open(info.Env()).DeleteAddress(key); });
}

void NetlinkBinding::AddRoute(const Napi::CallbackInfo& info) {
  const NewRoute route = NewRouteFromJs(ObjectArgument(info));
  WithJsErrors(info.Env(), [&] { Open(info.Env()).AddRoute(route); });
}

void NetlinkBinding::DeleteRoute(const Napi::CallbackInfo& info) {
  const RouteKey key = RouteKeyFromJs(ObjectArgument(info));
  WithJsErrors(info.Env(), [&] { Open(info.Env()).DeleteRoute(key); });
}

void NetlinkBinding::Close(const Napi::CallbackInfo&) { netlink_.reset(); }

}  // namespace vipd

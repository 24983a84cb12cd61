#include "js_values.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace vipd {
namespace {

Napi::Value MacToJs(Napi::Env env, const std::vector<uint8_t>& mac) {
  if (mac.empty()) return env.Null();
  std::string text;
  for (uint8_t byte : mac) {
    char part[4];
    std::snprintf(part, sizeof part, text.empty() ? "%02x" : ":%02x", byte);
    text += part;
  }
  return Napi::String::New(env, text);
}

uint8_t FamilyNumber(sa_family_t family) { return family == AF_INET ? 4 : 6; }

}  // namespace

Napi::Object LinkToJs(Napi::Env env, const LinkInfo& link) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("index", link.index);
  object.Set("name", link.name);
  object.Set("mac", MacToJs(env, link.mac));
  object.Set("mtu", link.mtu);
  object.Set("operstate", link.operstate);
  object.Set("flags", link.flags);
  if (link.kind) object.Set("kind", *link.kind);
  return object;
}

Napi::Object AddressToJs(Napi::Env env, const AddressInfo& address) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("ifindex", address.ifindex);
  object.Set("family", FamilyNumber(address.address.family));
  object.Set("address", address.address.ToString());
  object.Set("prefixLength", address.prefixLength);
  object.Set("protocol", address.protocol);
  object.Set("validLifetime", address.validLifetime);
  object.Set("preferredLifetime", address.preferredLifetime);
  object.Set("flags", address.flags);
  object.Set("label", address.label);
  return object;
}

Napi::Object RouteToJs(Napi::Env env, const RouteInfo& route) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("family", FamilyNumber(route.family));
  object.Set("table", route.table);
  object.Set("destination", route.destination.ToString());
  object.Set("prefixLength", route.prefixLength);
  object.Set("type", route.type);
  object.Set("protocol", route.protocol);
  object.Set("scope", route.scope);
  object.Set("priority", route.priority);
  Napi::Array nexthops = Napi::Array::New(env, route.nexthops.size());
  for (size_t i = 0; i < route.nexthops.size(); ++i) {
    const Nexthop& hop = route.nexthops[i];
    Napi::Object jsHop = Napi::Object::New(env);
    jsHop.Set("ifindex", hop.ifindex);
    jsHop.Set("gateway", hop.gateway ? Napi::Value(Napi::String::New(env, hop.gateway->ToString())) : env.Null());
    nexthops.Set(static_cast<uint32_t>(i), jsHop);
  }
  object.Set("nexthops", nexthops);
  return object;
}

uint32_t Uint32Property(const Napi::Object& options, const char* name, uint64_t max) {
  const Napi::Value value = options.Get(name);
  if (!value.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string(name) + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= 0 && number <= static_cast<double>(max) && std::floor(number) == number)) {
    throw Napi::RangeError::New(options.Env(), std::string(name) + " must be an integer from 0 to " + std::to_string(max));
  }
  return static_cast<uint32_t>(number);
}

bool BooleanProperty(const Napi::Object& options, const char* name) {
  const Napi::Value value = options.Get(name);
  if (!value.IsBoolean()) throw Napi::TypeError::New(options.Env(), std::string(name) + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

namespace {

IpAddress AddressProperty(const Napi::Object& options, const char* name) {
  const Napi::Env env = options.Env();
  const Napi::Value text = options.Get(name);
  if (!text.IsString()) throw Napi::TypeError::New(env, std::string(name) + " must be a string");
  const auto address = IpAddress::Parse(text.As<Napi::String>().Utf8Value());
  if (!address) throw Napi::TypeError::New(env, std::string(name) + " is not an IPv4 or IPv6 address");
  return *address;
}

uint8_t PrefixLengthProperty(const Napi::Object& options, const IpAddress& address) {
  return static_cast<uint8_t>(Uint32Property(options, "prefixLength", address.maxPrefixLength()));
}

}  // namespace

AddressKey AddressKeyFromJs(const Napi::Object& options) {
  AddressKey key;
  key.address = AddressProperty(options, "address");
  key.ifindex = static_cast<int32_t>(Uint32Property(options, "ifindex", INT32_MAX));
  key.prefixLength = PrefixLengthProperty(options, key.address);
  return key;
}

NewAddress NewAddressFromJs(const Napi::Object& options) {
  NewAddress address;
  address.key = AddressKeyFromJs(options);
  address.protocol = static_cast<uint8_t>(Uint32Property(options, "protocol", UINT8_MAX));
  address.validLifetime = Uint32Property(options, "validLifetime", UINT32_MAX);
  address.preferredLifetime = Uint32Property(options, "preferredLifetime", UINT32_MAX);
  address.nodad = BooleanProperty(options, "nodad");
  address.replace = BooleanProperty(options, "replace");
  return address;
}

RouteKey RouteKeyFromJs(const Napi::Object& options) {
  RouteKey key;
  key.destination = AddressProperty(options, "destination");
  key.prefixLength = PrefixLengthProperty(options, key.destination);
  key.table = Uint32Property(options, "table", UINT32_MAX);
  key.protocol = static_cast<uint8_t>(Uint32Property(options, "protocol", UINT8_MAX));
  return key;
}

NewRoute NewRouteFromJs(const Napi::Object& options) {
  NewRoute route;
  route.key = RouteKeyFromJs(options);
  route.ifindex = static_cast<int32_t>(Uint32Property(options, "ifindex", INT32_MAX));
  route.scope = static_cast<uint8_t>(Uint32Property(options, "scope", UINT8_MAX));
  return route;
}

sa_family_t FamilyFromJs(const Napi::Value& value) {
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), "family must be 0, 4 or 6");
  switch (value.As<Napi::Number>().Int32Value()) {
    case 0:
      return AF_UNSPEC;
    case 4:
      return AF_INET;
    case 6:
      return AF_INET6;
    default:
      throw Napi::RangeError::New(value.Env(), "family must be 0, 4 or 6");
  }
}

}  // namespace vipd

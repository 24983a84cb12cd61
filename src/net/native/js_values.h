#pragma once

#include <napi.h>

#include <cstdint>

#include "route_netlink.h"
#include "rtnl_parse.h"

namespace vipd {

// Decoded kernel values as plain JS objects; numbers stay raw for the TypeScript wrapper to name.
Napi::Object LinkToJs(Napi::Env env, const LinkInfo& link);
Napi::Object AddressToJs(Napi::Env env, const AddressInfo& address);
Napi::Object RouteToJs(Napi::Env env, const RouteInfo& route);

// Reads { ifindex, address, prefixLength } and throws TypeError/RangeError for bad input.
AddressKey AddressKeyFromJs(const Napi::Object& options);
NewAddress NewAddressFromJs(const Napi::Object& options);
// Reads { address, prefixLength, table, protocol } (and ifindex, scope for a new route).
RouteKey RouteKeyFromJs(const Napi::Object& options);
NewRoute NewRouteFromJs(const Napi::Object& options);

// 4 or 6 to the socket family; 0 (both) to AF_UNSPEC.
sa_family_t FamilyFromJs(const Napi::Value& value);

uint32_t Uint32Property(const Napi::Object& options, const char* name, uint64_t max);
bool BooleanProperty(const Napi::Object& options, const char* name);

}  // namespace vipd

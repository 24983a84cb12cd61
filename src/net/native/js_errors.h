#pragma once

#include <napi.h>

#include <utility>

#include "system_error.h"

namespace vipd {

// An Error whose errno (positive, as in os.constants.errno), code ('EEXIST') and syscall say what
// the kernel refused; message adds the kernel's extended-ack text when there is one.
Napi::Error ToJsError(Napi::Env env, const SystemError& error);

// Runs body, turning a SystemError into the JS exception above.
template <typename Body>
auto WithJsErrors(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return std::forward<Body>(body)();
  } catch (const SystemError& error) {
    throw ToJsError(env, error);
  }
}

// Calls a JS callback from a libuv callback, where no JS frame is below to catch what it throws:
// an exception is reported as uncaught, as Node does for its own event callbacks.
void CallFromEventLoop(Napi::Env env, const Napi::FunctionReference& callback, const Napi::Object& receiver,
                       const std::initializer_list<napi_value>& arguments);

}  // namespace vipd

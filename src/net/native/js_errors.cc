#include "js_errors.h"

#include <uv.h>

#include <cstring>
#include <string>

namespace vipd {
namespace {

std::string ErrnoName(int errnum) {
  // libuv's error codes are negated errno values on Linux, and it names them as Node does.
  char name[64] = {};
  uv_err_name_r(-errnum, name, sizeof name);
  if (std::strncmp(name, "Unknown", 7) == 0) return "ERRNO" + std::to_string(errnum);
  return name;
}

}  // namespace

Napi::Error ToJsError(Napi::Env env, const SystemError& error) {
  const std::string code = ErrnoName(error.errnum());
  std::string message = error.syscall() + " failed: " + code + " (" + std::strerror(error.errnum()) + ")";
  if (!error.detail().empty()) message += ": " + error.detail();
  Napi::Error jsError = Napi::Error::New(env, message);
  jsError.Set("errno", Napi::Number::New(env, error.errnum()));
  jsError.Set("code", Napi::String::New(env, code));
  jsError.Set("syscall", Napi::String::New(env, error.syscall()));
  return jsError;
}

void CallFromEventLoop(Napi::Env env, const Napi::FunctionReference& callback, const Napi::Object& receiver,
                       const std::initializer_list<napi_value>& arguments) {
  try {
    callback.MakeCallback(receiver, arguments);
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  }
}

}  // namespace vipd

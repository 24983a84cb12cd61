#include "packet_binding.h"

#include "js_errors.h"

namespace vipd {
namespace {

// Large enough for any frame the filter passes, jumbo frames included.
constexpr size_t kFrameBufferSize = 65536;
// Bounded work per wake-up keeps a flood of ARP from starving the rest of the event loop.
constexpr int kFramesPerWakeup = 64;

}  // namespace

Napi::Function PacketBinding::Define(Napi::Env env) {
  return DefineClass(env, "PacketSocket",
                     {
                         InstanceMethod<&PacketBinding::Send>("send"),
                         InstanceMethod<&PacketBinding::Start>("start"),
                         InstanceMethod<&PacketBinding::Close>("close"),
                     });
}

PacketBinding::PacketBinding(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<PacketBinding>(info), buffer_(kFrameBufferSize) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "ifindex must be a number");
  const int32_t ifindex = info[0].As<Napi::Number>().Int32Value();
  if (ifindex <= 0) throw Napi::RangeError::New(info.Env(), "ifindex must be positive");
  channel_ = WithJsErrors(info.Env(), [&] { return std::make_unique<PacketChannel>(ifindex); });
}

PacketChannel& PacketBinding::Open(Napi::Env env) {
  if (!channel_) throw Napi::Error::New(env, "the packet socket is closed");
  return *channel_;
}

void PacketBinding::Send(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "frame must be a Uint8Array");
  const auto frame = info[0].As<Napi::Uint8Array>();
  WithJsErrors(info.Env(), [&] { Open(info.Env()).Send(frame.Data(), frame.ByteLength()); });
}

void PacketBinding::Start(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  PacketChannel& channel = Open(env);
  if (watcher_) throw Napi::Error::New(env, "the packet socket is already receiving");
  if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "expected a callback");
  uv_loop_t* loop = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &loop));
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  watcher_ = WithJsErrors(env, [&] {
    return std::make_unique<PollWatcher>(loop, channel.fd(), [this](int status) { OnReadable(status); });
  });
  // A receiving socket stays alive while it watches, even with no JS reference left to it.
  Ref();
}

void PacketBinding::Close(const Napi::CallbackInfo&) {
  if (!channel_) return;
  if (watcher_) {
    watcher_.reset();
    Unref();
  }
  channel_.reset();
}

void PacketBinding::Deliver(std::initializer_list<napi_value> arguments) {
  CallFromEventLoop(Env(), callback_, Value(), arguments);
}

void PacketBinding::OnReadable(int status) {
  const Napi::Env env = Env();
  Napi::HandleScope scope(env);
  // Holds the object for the whole drain even if the callback closes it.
  [[maybe_unused]] const Napi::Object self = Value();
  if (status < 0) {
    // The socket's pending error: ENETDOWN when the interface went down or away. After a deletion
    // the socket stays bound to an index that no longer exists, so the owner opens a new one.
    Deliver({ToJsError(env, SystemError(-status, "poll(AF_PACKET)")).Value()});
    return;
  }
  for (int count = 0; count < kFramesPerWakeup && channel_; ++count) {
    std::optional<ReceivedFrame> frame;
    try {
      frame = channel_->Receive(buffer_);
    } catch (const SystemError& error) {
      // Such as ENETDOWN once when the interface goes down.
      Deliver({ToJsError(env, error).Value()});
      return;
    }
    if (!frame) return;
    Napi::Object details = Napi::Object::New(env);
    details.Set("ifindex", frame->ifindex);
    details.Set("pktType", frame->pktType);
    Deliver({env.Null(), Napi::Buffer<uint8_t>::Copy(env, buffer_.data(), frame->length), details});
  }
}

}  // namespace vipd

#include "poll_watcher.h"

#include <sys/socket.h>

#include "system_error.h"

namespace vipd {

PollWatcher::PollWatcher(uv_loop_t* loop, int fd, Callback callback)
    : handle_(new Handle{uv_poll_t{}, fd, std::move(callback)}) {
  handle_->poll.data = handle_;
  int status = uv_poll_init(loop, &handle_->poll, fd);
  if (status < 0) {
    delete handle_;
    throw SystemError(-status, "uv_poll_init");
  }
  status = uv_poll_start(&handle_->poll, UV_READABLE, OnPoll);
  if (status < 0) {
    Close();
    throw SystemError(-status, "uv_poll_start");
  }
}

void PollWatcher::OnPoll(uv_poll_t* poll, int status, int) {
  auto* handle = static_cast<Handle*>(poll->data);
  if (status == UV_EBADF) {
    int pending = 0;
    socklen_t length = sizeof pending;
    if (getsockopt(handle->fd, SOL_SOCKET, SO_ERROR, &pending, &length) == 0 && pending != 0 &&
        uv_poll_start(poll, UV_READABLE, OnPoll) == 0) {
      status = -pending;
    }
  }
  handle->callback(status);
}

void PollWatcher::Close() {
  if (handle_ == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_->poll),
           [](uv_handle_t* closed) { delete static_cast<Handle*>(closed->data); });
  handle_ = nullptr;
}

}  // namespace vipd

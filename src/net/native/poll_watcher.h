#pragma once

#include <uv.h>

#include <functional>

namespace vipd {

// Watches a file descriptor for readability on the Node event loop, without threads. Close (or
// destruction) stops the watch at once, so the descriptor may be closed right after; the libuv
// handle itself is freed on a later loop turn, which makes closing from inside the callback safe.
class PollWatcher {
 public:
  // status is 0, or a negative libuv error when polling failed.
  using Callback = std::function<void(int status)>;

  PollWatcher(uv_loop_t* loop, int fd, Callback callback);
  PollWatcher(const PollWatcher&) = delete;
  PollWatcher& operator=(const PollWatcher&) = delete;
  ~PollWatcher() { Close(); }

  void Close();

 private:
  struct Handle {
    uv_poll_t poll;
    Callback callback;
  };

  Handle* handle_;
};

}  // namespace vipd

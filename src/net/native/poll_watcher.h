#pragma once

#include <uv.h>

#include <functional>

namespace vipd {

// Watches a file descriptor for readability on the Node event loop, without threads. Close (or
// destruction) stops the watch at once, so the descriptor may be closed right after; the libuv
// handle itself is freed on a later loop turn, which makes closing from inside the callback safe.
//
// libuv reports a socket's pending error (POLLERR) as UV_EBADF and stops watching for good: a packet
// socket whose interface went down (ENETDOWN) or a netlink socket that overran (ENOBUFS) then never
// delivered another frame or notification, and said only "EBADF". The watcher reads the real error
// instead (SO_ERROR, which also clears it), hands it to the callback and goes on watching; only a
// descriptor with no pending error, which really is bad, stays stopped.
class PollWatcher {
 public:
  // status is 0, or a negative errno: the socket's pending error, or UV_EBADF when polling stopped.
  using Callback = std::function<void(int status)>;

  PollWatcher(uv_loop_t* loop, int fd, Callback callback);
  PollWatcher(const PollWatcher&) = delete;
  PollWatcher& operator=(const PollWatcher&) = delete;
  ~PollWatcher() { Close(); }

  void Close();

 private:
  struct Handle {
    uv_poll_t poll;
    int fd;
    Callback callback;
  };

  static void OnPoll(uv_poll_t* poll, int status, int events);

  Handle* handle_;
};

}  // namespace vipd

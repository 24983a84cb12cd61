{
  "targets": [
    {
      "target_name": "vipd_net",
      "sources": [
        "addon.cc",
        "ip_address.cc",
        "js_errors.cc",
        "js_values.cc",
        "monitor_binding.cc",
        "netlink_binding.cc",
        "netlink_message.cc",
        "netlink_socket.cc",
        "packet_binding.cc",
        "packet_channel.cc",
        "poll_watcher.cc",
        "route_netlink.cc",
        "rtnl_parse.cc",
        "system_error.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
    }
  ]
}

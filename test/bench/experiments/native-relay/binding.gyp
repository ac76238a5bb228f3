{
  "targets": [
    {
      "target_name": "native_relay",
      "sources": ["relay.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror=implicit-function-declaration", "-std=gnu11", "-O2"]
    }
  ]
}

{
  "targets": [
    {
      "target_name": "lanyard_native",
      "sources": ["src/addon.c", "src/args.c", "src/ecdsa-verify.c", "src/original-dst.c", "src/malloc-trim.c", "src/relay.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror=implicit-function-declaration", "-std=gnu11", "-O2"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS"]
    }
  ]
}

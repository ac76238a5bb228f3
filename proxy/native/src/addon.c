/*
 * lanyard_native: Lanyard's only native code (DESIGN.md §1). Functions Node cannot do fast
 * or at all: ecdsaVerify (CSR self-signatures, ecdsa-verify.c), originalDst (SO_ORIGINAL_DST
 * for the transparent proxy, original-dst.c), mallocTrim (giving the memory of a burst of
 * connections back to the kernel, malloc-trim.c) and the relay* functions (the sidecar's
 * relay transport: a native thread that carries the bytes of peer connections, relay.c).
 * Loaded by index.ts; every caller has a pure-Node fallback or a clear error when the addon
 * is not built.
 */
#include "args.h"

static napi_value init(napi_env env, napi_value exports) {
  if (!lanyard_ecdsa_init()) {
    napi_throw_error(env, NULL, "lanyard_native: OpenSSL could not build the P-256/P-384 groups");
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"ecdsaVerify", NULL, lanyard_ecdsa_verify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"originalDst", NULL, lanyard_original_dst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocTrim", NULL, lanyard_malloc_trim, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relayInit", NULL, lanyard_relay_init, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relayConnect", NULL, lanyard_relay_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relayAttach", NULL, lanyard_relay_attach, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relayServe", NULL, lanyard_relay_serve, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relayAdmit", NULL, lanyard_relay_admit, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relayClose", NULL, lanyard_relay_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relayDropPool", NULL, lanyard_relay_drop_pool, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relayStats", NULL, lanyard_relay_stats, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }

/*
 * Argument checks shared by the addon's functions. A wrong type is a programming error in
 * our own TypeScript, so it throws a TypeError naming the argument (like Node's
 * ERR_INVALID_ARG_TYPE); bad *contents* (an attacker's key or signature) never throw.
 */
#ifndef LANYARD_NATIVE_ARGS_H
#define LANYARD_NATIVE_ARGS_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stddef.h>

/* Calls a napi_* function; on failure throws a generic Error and returns NULL from the caller. */
#define NAPI_CALL(env, call)                                                    \
  do {                                                                          \
    if ((call) != napi_ok) {                                                    \
      lanyard_throw_last_napi_error(env, #call);                                \
      return NULL;                                                              \
    }                                                                           \
  } while (0)

void lanyard_throw_last_napi_error(napi_env env, const char *what);

/* Fills `data`/`len` from a Buffer or Uint8Array; throws TypeError naming `name` otherwise. */
int lanyard_get_bytes(napi_env env, napi_value value, const char *name, const unsigned char **data, size_t *len);

/* Copies a string argument (at most cap-1 bytes) into buf; throws TypeError naming `name` otherwise. */
int lanyard_get_string(napi_env env, napi_value value, const char *name, char *buf, size_t cap);

/* Reads a non-negative int32; throws TypeError naming `name` otherwise. */
int lanyard_get_fd(napi_env env, napi_value value, const char *name, int *out);

/* Reads an integral number from min to max (ids, ports, milliseconds: exact as doubles below
 * 2^53); throws TypeError naming `name` otherwise. */
int lanyard_get_integer(napi_env env, napi_value value, const char *name, double min, double max, double *out);

napi_value lanyard_ecdsa_verify(napi_env env, napi_callback_info info);
napi_value lanyard_original_dst(napi_env env, napi_callback_info info);
napi_value lanyard_malloc_trim(napi_env env, napi_callback_info info);
napi_value lanyard_relay_init(napi_env env, napi_callback_info info);
napi_value lanyard_relay_connect(napi_env env, napi_callback_info info);
napi_value lanyard_relay_attach(napi_env env, napi_callback_info info);
napi_value lanyard_relay_serve(napi_env env, napi_callback_info info);
napi_value lanyard_relay_admit(napi_env env, napi_callback_info info);
napi_value lanyard_relay_close(napi_env env, napi_callback_info info);
napi_value lanyard_relay_drop_pool(napi_env env, napi_callback_info info);
napi_value lanyard_relay_stats(napi_env env, napi_callback_info info);
int lanyard_ecdsa_init(void);

#endif

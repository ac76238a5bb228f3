/* Argument helpers: see args.h. */
#include "args.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void lanyard_throw_last_napi_error(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  char msg[256];
  if (napi_get_last_error_info(env, &info) == napi_ok && info && info->error_message) {
    snprintf(msg, sizeof msg, "lanyard_native: %s failed: %s", what, info->error_message);
  } else {
    snprintf(msg, sizeof msg, "lanyard_native: %s failed", what);
  }
  napi_throw_error(env, NULL, msg);
}

static int throw_type(napi_env env, const char *name, const char *expected) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s must be %s", name, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return 0;
}

int lanyard_get_bytes(napi_env env, napi_value value, const char *name, const unsigned char **data, size_t *len) {
  /* napi_is_buffer accepts any ArrayBufferView; restrict to Uint8Array (Buffer is one) so a
   * Float64Array or DataView is not silently read as bytes. */
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return throw_type(env, name, "a Buffer or Uint8Array");
  napi_typedarray_type type;
  size_t length = 0;
  void *ptr = NULL;
  if (napi_get_typedarray_info(env, value, &type, &length, &ptr, NULL, NULL) != napi_ok) return throw_type(env, name, "a Buffer or Uint8Array");
  if (type != napi_uint8_array) return throw_type(env, name, "a Buffer or Uint8Array");
  /* A detached or empty array has no data pointer; callers treat len 0 as "invalid input". */
  *data = length ? (const unsigned char *)ptr : NULL;
  *len = length;
  return 1;
}

int lanyard_get_string(napi_env env, napi_value value, const char *name, char *buf, size_t cap) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_string) return throw_type(env, name, "a string");
  size_t copied = 0;
  if (napi_get_value_string_utf8(env, value, buf, cap, &copied) != napi_ok) return throw_type(env, name, "a string");
  return 1;
}

int lanyard_get_fd(napi_env env, napi_value value, const char *name, int *out) {
  napi_valuetype t;
  double d = 0;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_number || napi_get_value_double(env, value, &d) != napi_ok) {
    return throw_type(env, name, "a non-negative integer file descriptor");
  }
  if (!isfinite(d) || d < 0 || d > 2147483647.0 || d != floor(d)) return throw_type(env, name, "a non-negative integer file descriptor");
  *out = (int)d;
  return 1;
}

int lanyard_get_integer(napi_env env, napi_value value, const char *name, double min, double max, double *out) {
  napi_valuetype t;
  double d = 0;
  char expected[96];
  snprintf(expected, sizeof expected, "an integer from %.0f to %.0f", min, max);
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_number || napi_get_value_double(env, value, &d) != napi_ok) return throw_type(env, name, expected);
  if (!isfinite(d) || d < min || d > max || d != floor(d)) return throw_type(env, name, expected);
  *out = d;
  return 1;
}

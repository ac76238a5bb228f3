/*
 * mallocTrim() -> boolean
 *
 * After a burst of connections, the memory OpenSSL, nghttp2 and libuv allocated for them is
 * freed (once V8 collects their JS wrappers) but glibc keeps it: the heap is fragmented, so
 * only its top could be returned, and the freed chunks stay in the process as anonymous
 * memory (measured: 2,000 held mux sessions took anonymous memory from 15 to 190 MiB, and it
 * stayed at 183 MiB once they had closed and been collected). malloc_trim(0) gives the free
 * pages anywhere in the heap back to the kernel (madvise); the same run went back to 20 MiB.
 * Node has no API for it, hence the addon. Returns whether memory was released; always
 * false on a C library without malloc_trim (musl).
 */
#include "args.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

napi_value lanyard_malloc_trim(napi_env env, napi_callback_info info) {
  int released = 0;
#if defined(__GLIBC__)
  released = malloc_trim(0);
#endif
  napi_value result;
  NAPI_CALL(env, napi_get_boolean(env, released != 0, &result));
  return result;
}

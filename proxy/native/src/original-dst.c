/*
 * originalDst(fd) -> { address, port, family } | null
 *
 * The transparent proxy's iptables REDIRECT rewrites a connection's destination to the
 * proxy's port; the kernel's conntrack entry still knows where the application meant to go,
 * and SO_ORIGINAL_DST (IPv4) / IP6T_SO_ORIGINAL_DST (IPv6) read it back from the accepted
 * socket. Node has no API for this, hence the addon.
 *
 * null means "not redirected": no conntrack entry (ENOENT), conntrack not loaded
 * (ENOPROTOOPT), or an entry whose original destination is this socket's own local address
 * (conntrack also tracks connections nobody rewrote, e.g. on loopback). Any other failure
 * (EBADF, ENOTSOCK, ENOTCONN, ...) throws an Error whose `code` is the errno name.
 */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef __linux__
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
/* After <netinet/in.h>, so the kernel headers see glibc's definitions and do not redefine them. */
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#endif

static const char *errno_name(int e) {
  switch (e) {
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOTCONN: return "ENOTCONN";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOMEM: return "ENOMEM";
    default: return "ERR_SYSTEM";
  }
}

static napi_value throw_errno(napi_env env, const char *what, int e) {
  char msg[200];
  snprintf(msg, sizeof msg, "originalDst: %s failed: %s (%s)", what, strerror(e), errno_name(e));
  napi_throw_error(env, errno_name(e), msg);
  return NULL;
}

#ifdef __linux__

static napi_value make_result(napi_env env, const char *address, int port, int family) {
  napi_value obj, v;
  NAPI_CALL(env, napi_create_object(env, &obj));
  NAPI_CALL(env, napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &v));
  NAPI_CALL(env, napi_set_named_property(env, obj, "address", v));
  NAPI_CALL(env, napi_create_int32(env, port, &v));
  NAPI_CALL(env, napi_set_named_property(env, obj, "port", v));
  NAPI_CALL(env, napi_create_int32(env, family, &v));
  NAPI_CALL(env, napi_set_named_property(env, obj, "family", v));
  return obj;
}

static napi_value null_value(napi_env env) {
  napi_value v;
  NAPI_CALL(env, napi_get_null(env, &v));
  return v;
}

/* Errors that mean "this connection was not redirected" rather than "bad socket". */
static int not_redirected(int e) { return e == ENOENT || e == ENOPROTOOPT; }

/* IPv4, including an IPv4 connection accepted on a dual-stack IPv6 socket (v4-mapped). */
static napi_value ipv4(napi_env env, int fd, const struct in_addr *local_addr, in_port_t local_port) {
  struct sockaddr_in orig;
  socklen_t len = sizeof orig;
  memset(&orig, 0, sizeof orig);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &orig, &len) != 0) {
    int e = errno;
    return not_redirected(e) ? null_value(env) : throw_errno(env, "getsockopt(SO_ORIGINAL_DST)", e);
  }
  if (orig.sin_addr.s_addr == local_addr->s_addr && orig.sin_port == local_port) return null_value(env);
  char text[INET_ADDRSTRLEN];
  if (!inet_ntop(AF_INET, &orig.sin_addr, text, sizeof text)) return throw_errno(env, "inet_ntop", errno);
  return make_result(env, text, ntohs(orig.sin_port), 4);
}

static napi_value ipv6(napi_env env, int fd, const struct sockaddr_in6 *local) {
  struct sockaddr_in6 orig;
  socklen_t len = sizeof orig;
  memset(&orig, 0, sizeof orig);
  if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &orig, &len) != 0) {
    int e = errno;
    return not_redirected(e) ? null_value(env) : throw_errno(env, "getsockopt(IP6T_SO_ORIGINAL_DST)", e);
  }
  if (memcmp(&orig.sin6_addr, &local->sin6_addr, sizeof orig.sin6_addr) == 0 && orig.sin6_port == local->sin6_port) return null_value(env);
  char text[INET6_ADDRSTRLEN];
  if (!inet_ntop(AF_INET6, &orig.sin6_addr, text, sizeof text)) return throw_errno(env, "inet_ntop", errno);
  return make_result(env, text, ntohs(orig.sin6_port), 6);
}

napi_value lanyard_original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = -1;
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "originalDst(fd) takes 1 argument");
    return NULL;
  }
  if (!lanyard_get_fd(env, argv[0], "fd", &fd)) return NULL;

  /* The local address tells which family to ask, and what "not rewritten" looks like. */
  struct sockaddr_storage local;
  socklen_t len = sizeof local;
  memset(&local, 0, sizeof local);
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) return throw_errno(env, "getsockname", errno);
  if (local.ss_family == AF_INET) {
    const struct sockaddr_in *l4 = (const struct sockaddr_in *)&local;
    return ipv4(env, fd, &l4->sin_addr, l4->sin_port);
  }
  if (local.ss_family == AF_INET6) {
    const struct sockaddr_in6 *l6 = (const struct sockaddr_in6 *)&local;
    if (IN6_IS_ADDR_V4MAPPED(&l6->sin6_addr)) {
      struct in_addr mapped;
      memcpy(&mapped, &l6->sin6_addr.s6_addr[12], sizeof mapped);
      return ipv4(env, fd, &mapped, l6->sin6_port);
    }
    return ipv6(env, fd, l6);
  }
  return throw_errno(env, "originalDst on a socket that is not TCP/IP", EAFNOSUPPORT);
}

#else

napi_value lanyard_original_dst(napi_env env, napi_callback_info info) {
  (void)info;
  return throw_errno(env, "SO_ORIGINAL_DST (Linux only)", EOPNOTSUPP);
}

#endif

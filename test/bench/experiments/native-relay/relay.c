/*
 * An experiment, not a transport (see ../native-pair.mjs): a relay thread that carries bytes
 * between an application socket and a peer socket whose mutual-TLS handshake Node has done,
 * with its own AEAD record layer (AES-256-GCM, keys from the TLS session's exporter). It asks
 * how far the proxy pair's figures move once the bytes stop passing through Node's streams.
 *
 *   relay(plainFd, peerFd, sendKey, recvKey, isClient, done(err, sent, received))
 *
 * The fds are dup()ed here, so the caller may destroy its sockets once relay() returns.
 *
 * Records on the peer socket: header (type 1 byte, length 3 bytes big-endian: the ciphertext
 * and its 16-byte tag), then the ciphertext. The header is the AEAD's additional data; the
 * nonce is the direction's record count (64-bit big-endian, zero-padded to 12 bytes), so a
 * reordered, replayed or dropped record fails to open.
 *   GO    client -> server, empty, first: the client's Node TLS reads nothing more, so the
 *         server may write (before it, the server's records could land in Node's TLS buffer)
 *   DATA  either way, up to 64 KiB of plaintext
 *   END   either way, empty: that direction is finished (shutdown(SHUT_WR) on the app side)
 * A peer socket that ends before END, or a record that fails to open, closes both sides.
 * One epoll thread per process carries every relay; the caller's thread only registers.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#define T_GO 1
#define T_DATA 2
#define T_END 3
#define HDR 4
#define TAG 16
#define MAXPLAIN (64 * 1024)
#define MAXREC (HDR + MAXPLAIN + TAG)

typedef struct relay relay;

/* One registered fd: epoll's data.ptr points here. */
typedef struct {
  relay *r;
  int fd;
  uint32_t mask; /* what epoll is asked for now */
} end_t;

struct relay {
  end_t plain, peer;
  EVP_CIPHER_CTX *seal, *open;
  uint64_t seal_seq, open_seq;
  int is_client, got_go;
  /* plain -> peer: one sealed record pending */
  unsigned char *out;
  size_t out_len, out_off;
  int plain_eof, end_sent;
  /* peer -> plain: raw bytes read, and one opened record's plaintext pending */
  unsigned char *in;
  size_t in_len;
  unsigned char *clear;
  size_t clear_len, clear_off;
  int end_got;
  uint64_t sent, received;
  int error, dead;
  relay *next; /* on the queue of new relays, then on the list of finished ones */
  napi_threadsafe_function done;
};

typedef struct {
  int error;
  double sent, received;
} result_t;

static int epfd = -1, wake = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static relay *queue;      /* registered by the caller's thread, armed by the relay thread */
static relay *graveyard;  /* finished during one epoll batch, freed after it */
static end_t wake_end;

static void nonce(unsigned char iv[12], uint64_t seq) {
  memset(iv, 0, 4);
  for (int i = 0; i < 8; i++) iv[4 + i] = (unsigned char)(seq >> (56 - 8 * i));
}

/* Seals `n` plaintext bytes from `src` as a record of `type` into r->out. */
static int seal(relay *r, int type, const unsigned char *src, size_t n) {
  unsigned char *h = r->out, iv[12];
  size_t len = n + TAG;
  h[0] = (unsigned char)type;
  h[1] = (unsigned char)(len >> 16);
  h[2] = (unsigned char)(len >> 8);
  h[3] = (unsigned char)len;
  nonce(iv, r->seal_seq++);
  int outl = 0, fin = 0;
  if (!EVP_EncryptInit_ex(r->seal, NULL, NULL, NULL, iv)) return -1;
  if (!EVP_EncryptUpdate(r->seal, NULL, &outl, h, HDR)) return -1;
  if (n && !EVP_EncryptUpdate(r->seal, h + HDR, &outl, src, (int)n)) return -1;
  if (!EVP_EncryptFinal_ex(r->seal, h + HDR + n, &fin)) return -1;
  if (!EVP_CIPHER_CTX_ctrl(r->seal, EVP_CTRL_GCM_GET_TAG, TAG, h + HDR + n)) return -1;
  r->out_len = HDR + len;
  r->out_off = 0;
  return 0;
}

/* Opens the complete record at the start of r->in into r->clear; returns its type or -1. */
static int open_record(relay *r, size_t len) {
  unsigned char *h = r->in, iv[12];
  size_t n = len - TAG;
  nonce(iv, r->open_seq++);
  int outl = 0, fin = 0;
  if (!EVP_DecryptInit_ex(r->open, NULL, NULL, NULL, iv)) return -1;
  if (!EVP_DecryptUpdate(r->open, NULL, &outl, h, HDR)) return -1;
  if (n && !EVP_DecryptUpdate(r->open, r->clear, &outl, h + HDR, (int)n)) return -1;
  if (!EVP_CIPHER_CTX_ctrl(r->open, EVP_CTRL_GCM_SET_TAG, TAG, h + HDR + n)) return -1;
  if (EVP_DecryptFinal_ex(r->open, r->clear + n, &fin) <= 0) return -1;
  r->clear_len = n;
  r->clear_off = 0;
  return h[0];
}

static int flush_out(relay *r) {
  while (r->out_off < r->out_len) {
    ssize_t w = send(r->peer.fd, r->out + r->out_off, r->out_len - r->out_off, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN ? 0 : -errno;
    r->out_off += (size_t)w;
  }
  r->out_len = r->out_off = 0;
  return 1;
}

static int flush_clear(relay *r) {
  while (r->clear_off < r->clear_len) {
    ssize_t w = send(r->plain.fd, r->clear + r->clear_off, r->clear_len - r->clear_off, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN ? 0 : -errno;
    r->clear_off += (size_t)w;
    r->received += (uint64_t)w;
  }
  r->clear_len = r->clear_off = 0;
  return 1;
}

/* plain -> peer: reads and seals while the peer socket takes what is sealed. */
static int pump_out(relay *r) {
  for (;;) {
    int f = flush_out(r);
    if (f <= 0) return f;
    if (r->plain_eof) {
      if (!r->end_sent) {
        if (seal(r, T_END, NULL, 0) < 0) return -EPROTO;
        r->end_sent = 1;
        continue;
      }
      return 1;
    }
    if (!r->is_client && !r->got_go) return 1;
    unsigned char buf[MAXPLAIN];
    ssize_t n = recv(r->plain.fd, buf, sizeof buf, 0);
    if (n < 0) return errno == EAGAIN ? 1 : -errno;
    if (n == 0) {
      r->plain_eof = 1;
      continue;
    }
    r->sent += (uint64_t)n;
    if (seal(r, T_DATA, buf, (size_t)n) < 0) return -EPROTO;
  }
}

/* peer -> plain: opens records and writes them while the app socket takes them. */
static int pump_in(relay *r) {
  for (;;) {
    int f = flush_clear(r);
    if (f <= 0) return f;
    if (r->in_len >= HDR) {
      size_t len = ((size_t)r->in[1] << 16) | ((size_t)r->in[2] << 8) | r->in[3];
      if (len < TAG || len > MAXPLAIN + TAG) return -EPROTO;
      if (r->in_len >= HDR + len) {
        int type = open_record(r, len);
        if (type < 0) return -EBADMSG;
        memmove(r->in, r->in + HDR + len, r->in_len - HDR - len);
        r->in_len -= HDR + len;
        if (type == T_GO) {
          if (r->is_client || r->got_go || r->clear_len) return -EPROTO;
          r->got_go = 1;
          int o = pump_out(r);
          if (o < 0) return o;
        } else if (type == T_END) {
          if (r->clear_len || r->in_len) return -EPROTO;
          r->end_got = 1;
          shutdown(r->plain.fd, SHUT_WR);
          return 1;
        } else if (type != T_DATA || (!r->is_client && !r->got_go)) {
          return -EPROTO;
        }
        continue;
      }
    }
    if (r->end_got) return r->in_len ? -EPROTO : 1;
    ssize_t n = recv(r->peer.fd, r->in + r->in_len, MAXREC - r->in_len, 0);
    if (n < 0) return errno == EAGAIN ? 1 : -errno;
    if (n == 0) return -ECONNRESET; /* the peer left without END */
    r->in_len += (size_t)n;
  }
}

static void set_mask(end_t *e, uint32_t want) {
  if (e->mask == want) return;
  struct epoll_event ev = {.events = want, .data.ptr = e};
  epoll_ctl(epfd, EPOLL_CTL_MOD, e->fd, &ev);
  e->mask = want;
}

static void finish(relay *r) {
  r->dead = 1;
  r->next = graveyard;
  graveyard = r;
  epoll_ctl(epfd, EPOLL_CTL_DEL, r->plain.fd, NULL);
  epoll_ctl(epfd, EPOLL_CTL_DEL, r->peer.fd, NULL);
  close(r->plain.fd);
  close(r->peer.fd);
  result_t *res = malloc(sizeof *res);
  if (res) {
    res->error = r->error;
    res->sent = (double)r->sent;
    res->received = (double)r->received;
  }
  napi_call_threadsafe_function(r->done, res, napi_tsfn_blocking);
  napi_release_threadsafe_function(r->done, napi_tsfn_release);
}

static void bury(void) {
  while (graveyard) {
    relay *r = graveyard;
    graveyard = r->next;
    EVP_CIPHER_CTX_free(r->seal);
  EVP_CIPHER_CTX_free(r->open);
  free(r->out);
  free(r->in);
    free(r->clear);
    free(r);
  }
}

/* Runs both directions as far as they go, then asks epoll for what each one waits on. */
static void step(relay *r, uint32_t events) {
  if (r->dead) return;
  int o = pump_out(r), i = o < 0 ? 0 : pump_in(r);
  if (o < 0 || i < 0) {
    r->error = o < 0 ? -o : -i;
    finish(r);
    return;
  }
  int out_pending = r->out_off < r->out_len, clear_pending = r->clear_off < r->clear_len;
  if (r->end_sent && !out_pending && r->end_got && !clear_pending) {
    finish(r);
    return;
  }
  if (events & (EPOLLHUP | EPOLLERR)) { /* reset, or gone both ways before its END */
    r->error = ECONNRESET;
    finish(r);
    return;
  }
  uint32_t plain = 0, peer = 0;
  if (!r->plain_eof && !out_pending && (r->is_client || r->got_go)) plain |= EPOLLIN;
  if (clear_pending) plain |= EPOLLOUT;
  if (!r->end_got && !clear_pending) peer |= EPOLLIN;
  if (out_pending) peer |= EPOLLOUT;
  set_mask(&r->plain, plain);
  set_mask(&r->peer, peer);
}

static void arm_new(void) {
  uint64_t n;
  if (read(wake, &n, sizeof n) < 0 && errno != EAGAIN) return;
  pthread_mutex_lock(&queue_lock);
  relay *r = queue;
  queue = NULL;
  pthread_mutex_unlock(&queue_lock);
  while (r) {
    relay *next = r->next;
    struct epoll_event ev = {.events = 0, .data.ptr = &r->plain};
    epoll_ctl(epfd, EPOLL_CTL_ADD, r->plain.fd, &ev);
    ev.data.ptr = &r->peer;
    epoll_ctl(epfd, EPOLL_CTL_ADD, r->peer.fd, &ev);
    step(r, 0);
    r = next;
  }
}

static void *loop(void *arg) {
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(epfd, evs, 64, -1);
    for (int i = 0; i < n; i++) {
      end_t *e = evs[i].data.ptr;
      if (e == &wake_end) arm_new();
      else step(e->r, evs[i].events);
    }
    bury(); /* after the batch: a later event in it may name a relay finished earlier */
  }
  return NULL;
}

static void start(void) {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &wake_end};
  epoll_ctl(epfd, EPOLL_CTL_ADD, wake, &ev);
  pthread_t t;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_create(&t, &a, loop, NULL);
}

static int dup_fd(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

static void call_done(napi_env env, napi_value cb, void *ctx, void *data) {
  result_t *res = data;
  if (!env || !res) {
    free(res);
    return;
  }
  napi_value argv[3], undef;
  napi_get_undefined(env, &undef);
  if (res->error) {
    napi_value code;
    napi_create_int32(env, res->error, &code);
    argv[0] = code;
  } else {
    argv[0] = undef;
  }
  napi_create_double(env, res->sent, &argv[1]);
  napi_create_double(env, res->received, &argv[2]);
  napi_call_function(env, undef, cb, 3, argv, NULL);
  free(res);
}

static napi_value js_relay(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t plain_fd = -1, peer_fd = -1;
  bool is_client = false;
  void *skey = NULL, *rkey = NULL;
  size_t slen = 0, rlen = 0;
  if (argc < 6 || napi_get_value_int32(env, argv[0], &plain_fd) != napi_ok || napi_get_value_int32(env, argv[1], &peer_fd) != napi_ok ||
      napi_get_buffer_info(env, argv[2], &skey, &slen) != napi_ok || napi_get_buffer_info(env, argv[3], &rkey, &rlen) != napi_ok ||
      napi_get_value_bool(env, argv[4], &is_client) != napi_ok || slen != 32 || rlen != 32) {
    napi_throw_type_error(env, NULL, "relay(plainFd, peerFd, sendKey[32], recvKey[32], isClient, done)");
    return NULL;
  }
  pthread_once(&once, start);
  relay *r = calloc(1, sizeof *r);
  r->out = malloc(MAXREC);
  r->in = malloc(MAXREC);
  r->clear = malloc(MAXPLAIN);
  r->seal = EVP_CIPHER_CTX_new();
  r->open = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(r->seal, EVP_aes_256_gcm(), NULL, skey, NULL);
  EVP_DecryptInit_ex(r->open, EVP_aes_256_gcm(), NULL, rkey, NULL);
  r->is_client = is_client;
  r->plain.r = r->peer.r = r;
  r->plain.fd = dup_fd(plain_fd);
  r->peer.fd = dup_fd(peer_fd);
  napi_value name;
  napi_create_string_utf8(env, "relay", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, argv[5], NULL, name, 0, 1, NULL, NULL, NULL, call_done, &r->done);
  napi_unref_threadsafe_function(env, r->done);
  if (is_client && seal(r, T_GO, NULL, 0) < 0) abort();
  pthread_mutex_lock(&queue_lock);
  r->next = queue;
  queue = r;
  pthread_mutex_unlock(&queue_lock);
  uint64_t one = 1;
  if (write(wake, &one, sizeof one) < 0) abort();
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "relay", NAPI_AUTO_LENGTH, js_relay, NULL, &fn);
  napi_set_named_property(env, exports, "relay", fn);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }

/*
 * The sidecar's `relay` transport (its TypeScript contract is NativeRelay in ../index.ts): one
 * native thread that carries bytes between application sockets and peer connections whose
 * mutual-TLS handshake Node made, in its own AEAD records (AES-256-GCM, keys from the TLS
 * exporter), and that reuses each client connection for one stream after another.
 *
 *   relayInit(onEvent, options)        once per process: options, the event callback, the thread
 *   relayConnect(appFd, peerFd, sendKey, recvKey, connection, poolKey, stream, port)
 *                                      client: a new peer connection; its first stream is to `port`
 *   relayAttach(appFd, poolKey, stream, port) -> connection | 0
 *                                      client: a stream on the most recently pooled idle connection
 *   relayServe(peerFd, sendKey, recvKey, connection)   server: streams arrive as DECIDE events
 *   relayAdmit(stream, status, host, port)  server: 0 connects the application, else refuses
 *   relayClose(connection, graceful)   graceful: no new stream; otherwise at once
 *   relayDropPool(poolKey)             closes that pool's idle connections; the busy ones never return
 *   relayStats() -> { connections, idle, streams, failed, rekeys, pings }
 * Events reach onEvent(kind, id, a, b, c, d) on the JS thread: DECIDE, STARTED, ENDED (exactly
 * one per stream) and CLOSED (exactly one per connection, after its last stream's ENDED).
 * Every fd passed in is dup()ed. The caller keeps its own, so closing ours would not end the
 * socket: the relay shuts a socket down before it closes it, except a client's application
 * socket on RETRY, which JavaScript dials anew on another connection.
 *
 * Records on the peer socket: header (type 1 byte, length 3 bytes big-endian: the ciphertext
 * and its 16-byte tag), then the ciphertext. The header is the AEAD's additional data; the
 * nonce is the direction's record count (64-bit big-endian, zero-padded to 12 bytes), so a
 * reordered, replayed or dropped record fails to open.
 *   OPEN       client -> server, 2 bytes: the target port. A stream starts; the client's first
 *              record on a new connection, so the server writes nothing before Node's TLS on
 *              the client side has stopped reading
 *   STATUS     server -> client, 2 bytes: 0 = the application is connected, else an HTTP-like
 *              code (400 bad target, 403 policy, 502 application connect failed, 503 limit)
 *   DATA       either way, 1 to 64 KiB of plaintext
 *   END        either way, empty: that direction is finished (shutdown(SHUT_WR) on the app side)
 *   KEYUPDATE  either way, empty: the sender's later records use the next key (see rekey())
 *   PING/PONG  either way, in any state, 8 opaque bytes; PONG echoes the PING
 * After both ENDs the connection is idle: the client pools it, the server waits for OPEN.
 * Anything else, or a record that fails to open, closes the connection (BAD_RECORD).
 *
 * Threads: JavaScript only queues (new connections and attached streams on `queue`, admits
 * and closes on `commands`) and takes idle connections from the pool, all under `lock`; the
 * relay thread does every socket operation. Memory an epoll event can point at (a connection,
 * an application end) is freed only after the epoll batch, so a stale event in the batch
 * finds it marked closed instead of freed.
 */
#define _GNU_SOURCE
#include "args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

enum record_type { REC_OPEN = 1, REC_STATUS, REC_DATA, REC_END, REC_KEYUPDATE, REC_PING, REC_PONG };

#define HDR 4
#define TAG 16
#define KEY_LEN 32
#define PING_LEN 8
#define MAXPLAIN (64 * 1024)
#define MAXREC (HDR + MAXPLAIN + TAG)
/* The largest control record (PING/PONG) plus the KEYUPDATE that may follow it. */
#define CONTROL_NEED (2 * (HDR + TAG) + PING_LEN)
/* One DATA record and its KEYUPDATE, plus room for the control records queued behind them. */
#define OUTCAP (MAXREC + HDR + TAG + 8 * CONTROL_NEED)
#define MAX_ID 9007199254740991.0 /* 2^53 - 1: ids are exact JS numbers */

static const char KEY_UPDATE_LABEL[] = "lanyard relay key update";

enum event_kind { EV_DECIDE = 1, EV_STARTED, EV_ENDED, EV_CLOSED };
enum end_reason {
  END_DONE, END_APP_RESET, END_PEER_CLOSED, END_BAD_RECORD, END_IDLE, END_REFUSED, END_APP_CONNECT,
  END_STATUS_TIMEOUT, END_RETRY, END_CLOSED, END_DENIED, END_NO_RESOURCES, END_KEEPALIVE
};
enum closed_reason {
  CLOSED_IDLE, CLOSED_PEER_CLOSED, CLOSED_BAD_RECORD, CLOSED_KEEPALIVE, CLOSED_BY_CALLER,
  CLOSED_STREAM_FAILED, CLOSED_NO_RESOURCES
};
/* IDLE: client, between streams (pooled, or taken by relayAttach and not yet armed). */
enum state { S_IDLE, S_OPENING, S_RUNNING, S_WAIT_OPEN, S_DECIDING, S_CONNECTING };
/* What pump_in/pump_out return; the failures say how the connection must close. */
enum pump { PUMP_WAIT = 0, PUMP_AGAIN = 1, FAIL_PEER = -1, FAIL_RECORD = -2, FAIL_RESOURCES = -3 };

typedef struct conn conn_t;

/* One registered fd: epoll's data.ptr points here. */
typedef struct end_s {
  conn_t *c;
  int fd, closed;
  int hup; /* off epoll: its peer shut both ways, pump_out reads what is left to its end */
  uint32_t mask;
  struct end_s *next; /* on the list of closed ends */
} end_t;

struct conn {
  end_t peer;
  end_t *app; /* the stream's application socket; NULL between streams or once it failed */
  double id, pool_key;
  int is_client, state, dead, registered;
  int fault; /* sealing failed (the cipher, or no room): the connection cannot go on */

  /* Record layer. out: sealed records waiting for the peer socket; in: raw bytes read from
   * it; clear: one opened DATA record's plaintext waiting for the application. */
  EVP_CIPHER_CTX *seal_ctx, *open_ctx;
  unsigned char seal_key[KEY_LEN], open_key[KEY_LEN];
  uint64_t seal_seq, open_seq;
  unsigned char *out, *in, *clear;
  size_t out_len, out_off, in_len, clear_len, clear_off;
  int pong_owed;
  unsigned char pong[PING_LEN];

  /* The current stream. */
  double stream, streams_carried;
  uint64_t from_app, to_app;
  int app_eof, app_failed, end_sent, end_got;

  int closing; /* server: relayClose(graceful): close once the current stream is over */
  int linger;  /* close once `out` is written (a STATUS 503 or a refusal before a close) */

  /* Timers, CLOCK_MONOTONIC milliseconds. since: the state began; active: the stream's last
   * byte; last_rx: the peer's last byte; ping_at: an unanswered PING (0: none). excused: since
   * that PING this side was blocked writing or wrote DATA, so the peer may only be slow. */
  int64_t since, active, last_rx, ping_at;
  int excused;

  /* Under lock: shared with relayAttach, relayClose and relayDropPool on the JS thread. */
  int in_pool, queued, no_reuse, pending_fd;
  double pending_stream;
  int pending_port;

  conn_t *all_prev, *all_next; /* every registered connection (relay thread only) */
  conn_t *queue_next, *pool_next, *dead_next;
};

enum command_kind { CMD_ADMIT, CMD_CLOSE, CMD_DROP };
typedef struct command {
  int kind, status, graceful;
  double id; /* the stream (admit), the connection (close) or the pool key (drop) */
  struct sockaddr_storage addr;
  socklen_t addr_len;
  struct command *next;
} command_t;

typedef struct { int kind; double id, a, b, c, d; } event_t;

static struct {
  int64_t idle_ms, pool_idle_ms, status_timeout_ms, connect_timeout_ms, keepalive_ms;
  double max_idle, rekey_after;
} opt = {3600000, 120000, 15000, 5000, 20000, 1024, 16777216};

static int initialized; /* JS thread only */
static int epfd = -1, wake_fd = -1;
static end_t wake_end;
static napi_threadsafe_function event_fn;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* everything down to the counters */
static conn_t *queue_head, *queue_tail;
static command_t *commands_head, *commands_tail;
static conn_t *pool; /* idle client connections, most recently used first */
static double pool_size, n_connections, n_streams, n_failed, n_rekeys, n_pings;

/* Relay thread only. */
static conn_t *all_conns;
static conn_t *dead_conns;
static end_t *dead_ends;
static double next_server_stream;

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void count(double *counter, double by) {
  pthread_mutex_lock(&lock);
  *counter += by;
  pthread_mutex_unlock(&lock);
}

/* Queues an event for JavaScript; lost only if even this small malloc fails. */
static void emit(int kind, double id, double a, double b, double c, double d) {
  event_t *ev = malloc(sizeof *ev);
  if (!ev) return;
  *ev = (event_t){kind, id, a, b, c, d};
  if (napi_call_threadsafe_function(event_fn, ev, napi_tsfn_nonblocking) != napi_ok) free(ev);
}

/* ---- Record layer ---- */

static void nonce_for(uint64_t seq, unsigned char iv[12]) {
  memset(iv, 0, 4);
  for (int i = 0; i < 8; i++) iv[4 + i] = (unsigned char)(seq >> (56 - 8 * i));
}

/* AES-GCM must not seal too many records under one key: both sides step to
 * HMAC-SHA256(old key, label), the sender after a KEYUPDATE record, the receiver on opening it. */
static int rekey(EVP_CIPHER_CTX *ctx, unsigned char key[KEY_LEN], int sealing) {
  unsigned char next[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key, KEY_LEN, (const unsigned char *)KEY_UPDATE_LABEL, sizeof KEY_UPDATE_LABEL - 1, next, &len) || len != KEY_LEN) return -1;
  memcpy(key, next, KEY_LEN);
  OPENSSL_cleanse(next, sizeof next);
  count(&n_rekeys, 1);
  int ok = sealing ? EVP_EncryptInit_ex(ctx, NULL, NULL, key, NULL) : EVP_DecryptInit_ex(ctx, NULL, NULL, key, NULL);
  return ok == 1 ? 0 : -1;
}

static size_t out_room(conn_t *c) {
  if (c->out_off && c->out_off == c->out_len) c->out_off = c->out_len = 0;
  return OUTCAP - c->out_len;
}

static int seal_one(conn_t *c, int type, const unsigned char *src, size_t n) {
  if (c->out_off) { /* compact: keeps the room arithmetic simple */
    memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
    c->out_len -= c->out_off;
    c->out_off = 0;
  }
  if (OUTCAP - c->out_len < HDR + n + TAG) return -1;
  unsigned char *h = c->out + c->out_len, iv[12];
  size_t len = n + TAG;
  h[0] = (unsigned char)type;
  h[1] = (unsigned char)(len >> 16);
  h[2] = (unsigned char)(len >> 8);
  h[3] = (unsigned char)len;
  nonce_for(c->seal_seq++, iv);
  int outl = 0, fin = 0;
  if (!EVP_EncryptInit_ex(c->seal_ctx, NULL, NULL, NULL, iv) || !EVP_EncryptUpdate(c->seal_ctx, NULL, &outl, h, HDR) ||
      (n && !EVP_EncryptUpdate(c->seal_ctx, h + HDR, &outl, src, (int)n)) || !EVP_EncryptFinal_ex(c->seal_ctx, h + HDR + n, &fin) ||
      !EVP_CIPHER_CTX_ctrl(c->seal_ctx, EVP_CTRL_GCM_GET_TAG, TAG, h + HDR + n))
    return -1;
  c->out_len += HDR + len;
  return 0;
}

/* Appends a record to `out`, and the KEYUPDATE that rekeyAfterRecords asks for. A failure
 * marks the connection faulty (step() closes it): callers keep room, so it means the cipher failed. */
static void seal(conn_t *c, int type, const unsigned char *src, size_t n) {
  if (seal_one(c, type, src, n) < 0) {
    c->fault = 1;
    return;
  }
  if ((double)c->seal_seq < opt.rekey_after) return;
  if (seal_one(c, REC_KEYUPDATE, NULL, 0) < 0 || rekey(c->seal_ctx, c->seal_key, 1) < 0) c->fault = 1;
  c->seal_seq = 0;
}

static void seal_status(conn_t *c, int status) {
  unsigned char b[2] = {(unsigned char)(status >> 8), (unsigned char)status};
  seal(c, REC_STATUS, b, 2);
}

/* The plaintext length a record type must have; -1: a type we do not know. */
static int plain_len_ok(int type, size_t n) {
  switch (type) {
    case REC_OPEN:
    case REC_STATUS: return n == 2;
    case REC_DATA: return n >= 1 && n <= MAXPLAIN;
    case REC_END:
    case REC_KEYUPDATE: return n == 0;
    case REC_PING:
    case REC_PONG: return n == PING_LEN;
    default: return 0;
  }
}

/* Opens the complete record at the start of `in` into `clear`; its type, or -1. */
static int open_record(conn_t *c, size_t len) {
  unsigned char *h = c->in, iv[12];
  size_t n = len - TAG;
  nonce_for(c->open_seq++, iv);
  int outl = 0, fin = 0;
  if (!EVP_DecryptInit_ex(c->open_ctx, NULL, NULL, NULL, iv) || !EVP_DecryptUpdate(c->open_ctx, NULL, &outl, h, HDR) ||
      (n && !EVP_DecryptUpdate(c->open_ctx, c->clear, &outl, h + HDR, (int)n)) ||
      !EVP_CIPHER_CTX_ctrl(c->open_ctx, EVP_CTRL_GCM_SET_TAG, TAG, h + HDR + n) || EVP_DecryptFinal_ex(c->open_ctx, c->clear + n, &fin) <= 0)
    return -1;
  return h[0];
}

/* ---- Ends and connection lifetimes ---- */

static void set_mask(end_t *e, uint32_t want) {
  if (!e || e->closed || e->hup || e->mask == want) return;
  struct epoll_event ev = {.events = want, .data.ptr = e};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, e->fd, &ev) == 0) e->mask = want;
}

static end_t *add_end(conn_t *c, int fd, uint32_t mask) {
  end_t *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->c = c, e->fd = fd, e->mask = mask;
  struct epoll_event ev = {.events = mask, .data.ptr = e};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    free(e);
    return NULL;
  }
  return e;
}

/* Off epoll explicitly: the caller's copy of the fd keeps the socket, and so its epoll entry, alive. */
static void close_end(end_t *e) {
  if (!e || e->closed) return;
  e->closed = 1;
  epoll_ctl(epfd, EPOLL_CTL_DEL, e->fd, NULL);
  close(e->fd);
  e->next = dead_ends;
  dead_ends = e;
}

static int has_stream(const conn_t *c) {
  return c->state == S_OPENING || c->state == S_RUNNING || c->state == S_DECIDING || c->state == S_CONNECTING;
}

static void pool_remove(conn_t *c) { /* under lock */
  for (conn_t **p = &pool; *p; p = &(*p)->pool_next)
    if (*p == c) {
      *p = c->pool_next;
      pool_size--;
      break;
    }
  c->in_pool = 0;
}

/* Reports the stream over and closes its application socket: shut down first, since the
 * caller's fd keeps it open (SHUT_WR after a clean end, both ways after a failure), except on
 * RETRY, when JavaScript carries the same socket on another connection. */
static void end_stream(conn_t *c, int reason, double detail) {
  if (c->app) {
    if (reason != END_RETRY) shutdown(c->app->fd, reason == END_DONE ? SHUT_WR : SHUT_RDWR);
    close_end(c->app);
    c->app = NULL;
  }
  emit(EV_ENDED, c->stream, (double)c->from_app, (double)c->to_app, reason, detail);
  pthread_mutex_lock(&lock);
  n_streams++;
  if (reason != END_DONE) n_failed++;
  pthread_mutex_unlock(&lock);
  c->stream = 0;
  c->from_app = c->to_app = 0;
  c->app_eof = c->app_failed = c->end_sent = c->end_got = 0;
  c->clear_len = c->clear_off = 0;
}

/* Closes the connection: its stream (and a stream relayAttach queued for it) ends with
 * end_reason, then CLOSED. A client stream that sent OPEN and lost its connection before
 * STATUS never had an application byte read, so it is RETRY: JavaScript may dial anew. */
static void kill_conn(conn_t *c, int closed_reason, int end_reason, double detail) {
  if (c->dead) return;
  c->dead = 1;
  pthread_mutex_lock(&lock);
  if (c->in_pool) pool_remove(c);
  int pending_fd = c->pending_fd, queued = c->queued;
  double pending_stream = c->pending_stream;
  c->pending_fd = -1;
  if (c->registered) n_connections--;
  pthread_mutex_unlock(&lock);
  int retryable = end_reason == END_PEER_CLOSED || end_reason == END_KEEPALIVE;
  if (has_stream(c)) end_stream(c, c->is_client && c->state == S_OPENING && retryable ? END_RETRY : end_reason, detail);
  if (pending_fd >= 0) {
    close(pending_fd);
    c->streams_carried++;
    emit(EV_ENDED, pending_stream, 0, 0, end_reason == END_CLOSED ? END_CLOSED : END_RETRY, 0);
    count(&n_streams, 1);
  }
  if (c->registered) {
    if (c->all_prev) c->all_prev->all_next = c->all_next;
    else all_conns = c->all_next;
    if (c->all_next) c->all_next->all_prev = c->all_prev;
  }
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->peer.fd, NULL);
  shutdown(c->peer.fd, SHUT_RDWR);
  close(c->peer.fd);
  c->peer.closed = 1;
  emit(EV_CLOSED, c->id, closed_reason, c->streams_carried, 0, 0);
  if (!queued) { /* a queued one is freed when arm_queued() takes it off the queue */
    c->dead_next = dead_conns;
    dead_conns = c;
  }
}

static void fail_conn(conn_t *c, int failure) {
  if (failure == FAIL_RECORD) kill_conn(c, CLOSED_BAD_RECORD, END_BAD_RECORD, 0);
  else if (failure == FAIL_RESOURCES) kill_conn(c, CLOSED_NO_RESOURCES, END_NO_RESOURCES, ENOMEM);
  else kill_conn(c, CLOSED_PEER_CLOSED, END_PEER_CLOSED, 0);
}

static void free_conn(conn_t *c) {
  EVP_CIPHER_CTX_free(c->seal_ctx);
  EVP_CIPHER_CTX_free(c->open_ctx);
  OPENSSL_cleanse(c->seal_key, KEY_LEN);
  OPENSSL_cleanse(c->open_key, KEY_LEN);
  free(c->out);
  free(c->in);
  free(c->clear);
  free(c);
}

/* After the epoll batch: a later event in it may name an end or connection closed earlier. */
static void bury(void) {
  while (dead_ends) {
    end_t *e = dead_ends;
    dead_ends = e->next;
    free(e);
  }
  while (dead_conns) {
    conn_t *c = dead_conns;
    dead_conns = c->dead_next;
    free_conn(c);
  }
}

/* Under lock: relayClose or relayDropPool asked that this connection never be pooled again,
 * whether or not the relay thread has taken that command yet. */
static int reuse_refused(const conn_t *c) {
  if (c->no_reuse) return 1;
  for (const command_t *m = commands_head; m; m = m->next)
    if ((m->kind == CMD_CLOSE && m->id == c->id) || (m->kind == CMD_DROP && m->id == c->pool_key)) return 1;
  return 0;
}

/* The stream is over and the connection can carry another: a client's goes back to its pool
 * before its application socket is shut down, so an application that connects again as soon
 * as it sees the end finds the connection idle; a server's waits for the next OPEN. */
static void settle(conn_t *c, int reason, double detail) {
  int64_t now = now_ms();
  if (!c->is_client) {
    end_stream(c, reason, detail);
    c->state = S_WAIT_OPEN;
    c->since = now;
    if (c->closing) c->linger = 1; /* step() closes it once `out` is written */
    return;
  }
  c->state = S_IDLE;
  c->since = now;
  int closed_reason = -1;
  pthread_mutex_lock(&lock);
  if (reuse_refused(c)) closed_reason = CLOSED_BY_CALLER;
  else if (pool_size >= opt.max_idle) closed_reason = CLOSED_IDLE;
  else {
    c->pool_next = pool;
    pool = c;
    pool_size++;
    c->in_pool = 1;
  }
  pthread_mutex_unlock(&lock);
  end_stream(c, reason, detail);
  if (closed_reason >= 0) kill_conn(c, closed_reason, END_CLOSED, 0);
}

/* ---- Moving bytes ---- */

/* 1: `out` is written; 0: the peer socket is full; -1: it failed. */
static int flush_out(conn_t *c) {
  while (c->out_off < c->out_len) {
    ssize_t w = send(c->peer.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      c->excused = 1;
      return 0;
    }
    if (w < 0) return -1;
    c->out_off += (size_t)w;
  }
  c->out_len = c->out_off = 0;
  return 1;
}

/* The application socket failed: this direction ends (END follows) and what the peer still
 * sends for it is dropped; the record stream stays in step, so the connection lives on. */
static void app_fail(conn_t *c) {
  if (c->app) {
    shutdown(c->app->fd, SHUT_RDWR);
    close_end(c->app);
    c->app = NULL;
  }
  c->app_failed = c->app_eof = 1;
  c->clear_len = c->clear_off = 0;
}

/* 1: `clear` is delivered (or dropped, the application being gone); 0: it would block. */
static int flush_clear(conn_t *c) {
  while (c->app && c->clear_off < c->clear_len) {
    ssize_t w = send(c->app->fd, c->clear + c->clear_off, c->clear_len - c->clear_off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return 0;
    if (w < 0) {
      app_fail(c);
      break;
    }
    c->clear_off += (size_t)w;
    c->to_app += (uint64_t)w;
    c->active = now_ms();
  }
  c->clear_len = c->clear_off = 0;
  return 1;
}

/* Application -> peer: control records first, then the stream's bytes while it runs. */
static int pump_out(conn_t *c) {
  int drained = 0; /* a short read: epoll (level-triggered) says when there is more */
  for (;;) {
    int f = flush_out(c);
    if (f < 0) return FAIL_PEER;
    if (c->pong_owed && out_room(c) >= CONTROL_NEED) {
      c->pong_owed = 0;
      seal(c, REC_PONG, c->pong, PING_LEN);
      continue;
    }
    if (f == 0 || drained || c->state != S_RUNNING || c->end_sent) return PUMP_WAIT;
    if (c->app_eof || !c->app) {
      seal(c, REC_END, NULL, 0);
      c->end_sent = 1;
      continue;
    }
    unsigned char buf[MAXPLAIN];
    ssize_t n = recv(c->app->fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EAGAIN) return PUMP_WAIT;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) app_fail(c);
    else if (n == 0) c->app_eof = 1;
    if (n <= 0) continue;
    c->from_app += (uint64_t)n;
    c->active = now_ms();
    drained = !c->app->hup && (size_t)n < sizeof buf;
    seal(c, REC_DATA, buf, (size_t)n);
    c->excused = 1; /* the peer may be slow to answer a PING while it reads this */
  }
}

static void start_app_connect(conn_t *c, const struct sockaddr *addr, socklen_t len) {
  int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0) {
    int err = errno;
    seal_status(c, 503);
    settle(c, END_NO_RESOURCES, err);
    return;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, addr, len) < 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    seal_status(c, 502);
    settle(c, END_APP_CONNECT, err);
    return;
  }
  c->app = add_end(c, fd, EPOLLOUT);
  if (!c->app) {
    close(fd);
    seal_status(c, 503);
    settle(c, END_NO_RESOURCES, ENOMEM);
    return;
  }
  c->state = S_CONNECTING;
  c->since = now_ms();
}

/* The application connect finished (server). */
static void app_connected(conn_t *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->app->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err) {
    seal_status(c, 502);
    settle(c, END_APP_CONNECT, err);
    return;
  }
  seal_status(c, 0);
  c->state = S_RUNNING;
  c->active = now_ms();
  emit(EV_STARTED, c->stream, 0, 0, 0, 0);
}

/* One opened record: PUMP_WAIT (go on), PUMP_AGAIN (pump_out has work) or a failure. */
static int on_record(conn_t *c, int type, size_t n) {
  const unsigned char *p = c->clear;
  int port_or_status = n == 2 ? (p[0] << 8) | p[1] : 0;
  switch (type) {
    case REC_KEYUPDATE:
      if (rekey(c->open_ctx, c->open_key, 0) < 0) return FAIL_RESOURCES;
      c->open_seq = 0;
      return PUMP_WAIT;
    case REC_PING:
      memcpy(c->pong, p, PING_LEN); /* a PING that overtakes an unsent PONG replaces it */
      c->pong_owed = 1;
      return PUMP_AGAIN;
    case REC_PONG:
      return PUMP_WAIT; /* any byte from the peer answers our PING (see pump_in) */
    case REC_DATA:
      if (c->state != S_RUNNING || c->end_got) return FAIL_RECORD;
      c->clear_len = n;
      c->clear_off = 0;
      c->active = now_ms();
      return PUMP_WAIT;
    case REC_END:
      if (c->state != S_RUNNING || c->end_got) return FAIL_RECORD;
      c->end_got = 1;
      /* When this END completes the stream, settle() shuts the app socket after pooling. */
      if (c->app && !(c->end_sent && c->out_len == 0)) shutdown(c->app->fd, SHUT_WR);
      return PUMP_AGAIN;
    case REC_OPEN:
      if (c->is_client || c->state != S_WAIT_OPEN || port_or_status == 0) return FAIL_RECORD;
      if (c->closing) { /* an OPEN that raced relayClose(graceful) */
        seal_status(c, 503);
        c->linger = 1;
        return PUMP_AGAIN;
      }
      c->stream = ++next_server_stream;
      c->streams_carried++;
      c->state = S_DECIDING;
      c->since = now_ms();
      emit(EV_DECIDE, c->stream, c->id, port_or_status, 0, 0);
      return PUMP_WAIT;
    case REC_STATUS:
      if (!c->is_client || c->state != S_OPENING) return FAIL_RECORD;
      if (port_or_status != 0) {
        settle(c, END_REFUSED, port_or_status);
        return PUMP_AGAIN;
      }
      c->state = S_RUNNING;
      c->active = now_ms();
      emit(EV_STARTED, c->stream, 0, 0, 0, 0);
      return PUMP_AGAIN;
    default:
      return FAIL_RECORD;
  }
}

static int stream_complete(const conn_t *c) {
  return c->state == S_RUNNING && c->end_sent && c->out_len == 0 && c->end_got && c->clear_len == 0;
}

/* Peer -> application, one record at a time. */
static int pump_in(conn_t *c) {
  int drained = 0;
  for (;;) {
    if (c->clear_off < c->clear_len && !flush_clear(c)) return PUMP_WAIT;
    /* Settle first: the next OPEN may already be behind the END that completed the stream. */
    if (stream_complete(c)) return PUMP_AGAIN;
    if (c->linger || out_room(c) < CONTROL_NEED) return PUMP_WAIT; /* the answer must fit */
    if (c->in_len >= HDR) {
      int type = c->in[0];
      size_t len = ((size_t)c->in[1] << 16) | ((size_t)c->in[2] << 8) | c->in[3];
      if (len < TAG || !plain_len_ok(type, len - TAG)) return FAIL_RECORD;
      if (c->in_len >= HDR + len) {
        if (open_record(c, len) != type) return FAIL_RECORD;
        memmove(c->in, c->in + HDR + len, c->in_len - HDR - len);
        c->in_len -= HDR + len;
        int r = on_record(c, type, len - TAG);
        if (r != PUMP_WAIT) return r;
        continue;
      }
    }
    if (drained) return PUMP_WAIT;
    ssize_t n = recv(c->peer.fd, c->in + c->in_len, MAXREC - c->in_len, 0);
    if (n < 0 && errno == EAGAIN) return PUMP_WAIT;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return FAIL_PEER;
    c->last_rx = now_ms();
    c->ping_at = 0;
    drained = (size_t)n < MAXREC - c->in_len;
    c->in_len += (size_t)n;
  }
}

static void update_masks(conn_t *c) {
  int out_pending = c->out_len > c->out_off, clear_pending = c->clear_len > 0;
  if (c->app && c->state != S_CONNECTING) {
    uint32_t m = 0;
    if (c->state == S_RUNNING && !c->app_eof && !c->end_sent && !out_pending) m |= EPOLLIN;
    if (clear_pending) m |= EPOLLOUT;
    set_mask(c->app, m);
  }
  uint32_t p = 0;
  if (!clear_pending && !c->linger && out_room(c) >= CONTROL_NEED) p |= EPOLLIN;
  if (out_pending) p |= EPOLLOUT;
  set_mask(&c->peer, p);
}

static void step(conn_t *c, end_t *e, uint32_t events) {
  if (c->dead || (e && e->closed)) return;
  if (e == &c->peer && (events & (EPOLLERR | EPOLLHUP))) {
    /* Reported whatever the mask, so it would fire on every wake-up while we wait on the app. */
    kill_conn(c, CLOSED_PEER_CLOSED, END_PEER_CLOSED, 0);
    return;
  }
  if (e && e == c->app) {
    if (c->state == S_CONNECTING) {
      app_connected(c);
    } else if ((events & EPOLLERR) && c->state == S_RUNNING) {
      app_fail(c);
    } else if (events & (EPOLLERR | EPOLLHUP)) {
      /* Shut both ways, but what it sent before may still be queued. Level-triggered HUP would
       * fire on every wake-up, so it leaves epoll; pump_out reads it to its end (an error
       * there fails it) once the stream runs and the peer socket can take more. */
      e->hup = 1;
      epoll_ctl(epfd, EPOLL_CTL_DEL, e->fd, NULL);
    }
  }
  for (;;) { /* ends: each PUMP_AGAIN consumed a record or changed the state */
    int o = pump_out(c);
    int i = o < 0 ? o : pump_in(c);
    if (c->dead) return; /* a REFUSED stream's connection that may not be pooled */
    if (c->fault) i = FAIL_RESOURCES;
    if (i < 0) {
      fail_conn(c, i);
      return;
    }
    if (stream_complete(c)) {
      settle(c, c->app_failed ? END_APP_RESET : END_DONE, 0);
      if (c->dead) return;
      continue; /* a record waiting, or the next OPEN */
    }
    if (c->linger && c->out_len == c->out_off) {
      kill_conn(c, CLOSED_BY_CALLER, END_CLOSED, 0);
      return;
    }
    if (i != PUMP_AGAIN) break;
  }
  update_masks(c);
}

/* ---- Timers ---- */

/* Keepalive: a PING after keepaliveMs/2 of silence; no answer in keepaliveMs kills, unless
 * this side was blocked writing or wrote DATA meanwhile (the peer may just read slowly). */
static void keepalive(conn_t *c, int64_t now) {
  if (!(c->peer.mask & EPOLLIN)) { /* we are not reading: silence is not the peer's fault */
    c->last_rx = now;
    c->ping_at = 0;
  } else if (c->ping_at) {
    if (now - c->ping_at < opt.keepalive_ms) return;
    if (!c->excused) {
      kill_conn(c, CLOSED_KEEPALIVE, END_KEEPALIVE, 0);
      return;
    }
    c->ping_at = now;
    c->excused = 0;
  } else if (now - c->last_rx >= opt.keepalive_ms / 2 && c->out_len == c->out_off) {
    unsigned char payload[PING_LEN];
    uint64_t at = (uint64_t)now;
    for (int i = 0; i < PING_LEN; i++) payload[i] = (unsigned char)(at >> (56 - 8 * i));
    seal(c, REC_PING, payload, PING_LEN);
    c->ping_at = now;
    c->excused = 0;
    count(&n_pings, 1);
    step(c, NULL, 0);
  }
}

/* 1 when a timer expired (and did what it does), 0 otherwise. */
static int expire(conn_t *c, int64_t now) {
  int expired;
  switch (c->state) {
    case S_IDLE:
      pthread_mutex_lock(&lock);
      expired = c->in_pool && now - c->since >= opt.pool_idle_ms; /* not when taken by relayAttach */
      if (expired) pool_remove(c);
      pthread_mutex_unlock(&lock);
      if (expired) kill_conn(c, CLOSED_IDLE, END_IDLE, 0);
      return expired;
    case S_WAIT_OPEN:
    case S_DECIDING:
      expired = now - c->since >= opt.idle_ms;
      if (expired) kill_conn(c, CLOSED_IDLE, END_IDLE, 0);
      return expired;
    case S_OPENING:
      /* A STATUS may still come: the record stream is out of step, so the connection goes too. */
      expired = now - c->since >= opt.status_timeout_ms;
      if (expired) kill_conn(c, CLOSED_STREAM_FAILED, END_STATUS_TIMEOUT, 0);
      return expired;
    case S_CONNECTING:
      expired = now - c->since >= opt.connect_timeout_ms;
      if (expired) {
        seal_status(c, 502);
        settle(c, END_APP_CONNECT, ETIMEDOUT);
        step(c, NULL, 0);
      }
      return expired;
    case S_RUNNING:
      /* Mid-stream, only closing the connection ends the stream. */
      expired = now - c->active >= opt.idle_ms;
      if (expired) kill_conn(c, CLOSED_STREAM_FAILED, END_IDLE, 0);
      return expired;
    default:
      return 0;
  }
}

static void check_timers(conn_t *c, int64_t now) {
  if (!expire(c, now) && opt.keepalive_ms > 0) keepalive(c, now);
}

static void sweep(void) {
  int64_t now = now_ms();
  for (conn_t *c = all_conns, *next; c; c = next) {
    next = c->all_next; /* kill_conn unlinks only c */
    check_timers(c, now);
  }
}

/* ---- What JavaScript queued ---- */

static void set_peer_options(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (opt.keepalive_ms <= 0) return;
  int idle = (int)(opt.keepalive_ms / 2000), interval = (int)(opt.keepalive_ms / 6000), probes = 3;
  unsigned int user_timeout = (unsigned int)opt.keepalive_ms;
  if (idle < 1) idle = 1;
  if (interval < 1) interval = 1;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout); /* a blackholed path */
}

static int register_conn(conn_t *c) {
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->peer};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->peer.fd, &ev) < 0) return -1;
  c->peer.mask = EPOLLIN;
  set_peer_options(c->peer.fd);
  c->registered = 1;
  c->all_next = all_conns;
  if (all_conns) all_conns->all_prev = c;
  all_conns = c;
  c->since = c->last_rx = now_ms();
  count(&n_connections, 1);
  return 0;
}

static void start_client_stream(conn_t *c, int fd, double stream, int port) {
  c->streams_carried++;
  c->stream = stream;
  c->state = S_OPENING;
  c->since = now_ms();
  c->app = add_end(c, fd, 0); /* not read until STATUS 0: nothing of it is lost on RETRY */
  if (!c->app) {
    close(fd);
    settle(c, END_NO_RESOURCES, ENOMEM);
    return;
  }
  unsigned char b[2] = {(unsigned char)(port >> 8), (unsigned char)port};
  seal(c, REC_OPEN, b, 2);
}

static void arm_queued(void) {
  pthread_mutex_lock(&lock);
  conn_t *c = queue_head;
  queue_head = queue_tail = NULL;
  pthread_mutex_unlock(&lock);
  while (c) {
    conn_t *next = c->queue_next;
    pthread_mutex_lock(&lock);
    c->queued = 0;
    int fd = c->pending_fd, port = c->pending_port;
    double stream = c->pending_stream;
    c->pending_fd = -1;
    pthread_mutex_unlock(&lock);
    if (c->dead) { /* killed while queued: kill_conn already ended its pending stream */
      c->dead_next = dead_conns;
      dead_conns = c;
    } else if (!c->registered && register_conn(c) < 0) {
      int err = errno;
      if (fd >= 0) {
        close(fd);
        c->streams_carried++;
        emit(EV_ENDED, stream, 0, 0, END_NO_RESOURCES, err);
        count(&n_streams, 1);
      }
      kill_conn(c, CLOSED_NO_RESOURCES, END_NO_RESOURCES, err);
    } else {
      if (fd >= 0) start_client_stream(c, fd, stream, port);
      step(c, NULL, 0);
    }
    c = next;
  }
}

static conn_t *find_conn(double id) {
  for (conn_t *c = all_conns; c; c = c->all_next)
    if (c->id == id) return c;
  return NULL;
}

static void run_command(const command_t *m) {
  if (m->kind == CMD_ADMIT) {
    for (conn_t *c = all_conns; c; c = c->all_next) {
      if (c->is_client || c->state != S_DECIDING || c->stream != m->id) continue;
      if (m->status) {
        seal_status(c, m->status);
        settle(c, END_DENIED, m->status);
      } else {
        start_app_connect(c, (const struct sockaddr *)&m->addr, m->addr_len);
      }
      step(c, NULL, 0);
      return;
    }
  } else if (m->kind == CMD_CLOSE) {
    conn_t *c = find_conn(m->id);
    if (!c) return;
    if (!m->graceful) {
      kill_conn(c, CLOSED_BY_CALLER, END_CLOSED, 0);
      return;
    }
    pthread_mutex_lock(&lock);
    c->no_reuse = 1;
    if (c->in_pool) pool_remove(c);
    int queued = c->queued;
    pthread_mutex_unlock(&lock);
    if (!c->is_client) {
      c->closing = 1;
      if (c->state == S_WAIT_OPEN) c->linger = 1;
      step(c, NULL, 0);
    } else if (c->state == S_IDLE && !queued) {
      kill_conn(c, CLOSED_BY_CALLER, END_CLOSED, 0);
    }
  } else {
    for (conn_t *c = all_conns, *next; c; c = next) {
      next = c->all_next;
      if (!c->is_client || c->pool_key != m->id) continue;
      pthread_mutex_lock(&lock);
      c->no_reuse = 1;
      if (c->in_pool) pool_remove(c);
      int queued = c->queued;
      pthread_mutex_unlock(&lock);
      if (c->state == S_IDLE && !queued) kill_conn(c, CLOSED_BY_CALLER, END_CLOSED, 0);
    }
  }
}

/* New connections and attached streams first, so a close queued after them finds them. */
static void take_queued(void) {
  uint64_t n;
  if (read(wake_fd, &n, sizeof n) < 0 && errno != EAGAIN) return;
  arm_queued();
  for (;;) {
    /* One at a time: reuse_refused() reads the commands not yet run. */
    pthread_mutex_lock(&lock);
    command_t *m = commands_head;
    pthread_mutex_unlock(&lock);
    if (!m) break;
    run_command(m);
    pthread_mutex_lock(&lock);
    commands_head = m->next;
    if (!commands_head) commands_tail = NULL;
    pthread_mutex_unlock(&lock);
    free(m);
  }
}

static void *relay_thread(void *arg) {
  struct epoll_event evs[64];
  int64_t last_sweep = now_ms();
  for (;;) {
    int n = epoll_wait(epfd, evs, 64, 250); /* 250 ms: the timers' resolution */
    int woken = 0;
    for (int i = 0; i < n; i++) {
      end_t *e = evs[i].data.ptr;
      if (e == &wake_end) woken = 1;
      else step(e->c, e, evs[i].events);
    }
    bury();
    if (woken) take_queued();
    int64_t now = now_ms();
    if (now - last_sweep >= 250) {
      sweep();
      last_sweep = now;
    }
  }
  return NULL;
}

static void wake_relay(void) {
  uint64_t one = 1;
  /* Fails only if the counter would overflow, and then the thread is woken already. */
  if (write(wake_fd, &one, sizeof one) < 0) return;
}

static void enqueue(conn_t *c) { /* under lock */
  c->queued = 1;
  c->queue_next = NULL;
  if (queue_tail) queue_tail->queue_next = c;
  else queue_head = c;
  queue_tail = c;
}

static void push_command(command_t *m) { /* under lock */
  m->next = NULL;
  if (commands_tail) commands_tail->next = m;
  else commands_head = m;
  commands_tail = m;
}

/* ---- JavaScript ---- */

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  event_t *ev = data;
  if (env && ev) {
    napi_value argv[6], undefined;
    double values[6] = {ev->kind, ev->id, ev->a, ev->b, ev->c, ev->d};
    napi_get_undefined(env, &undefined);
    for (int i = 0; i < 6; i++) napi_create_double(env, values[i], &argv[i]);
    napi_call_function(env, undefined, cb, 6, argv, NULL);
  }
  free(ev);
}

/* NULL (with errno, nothing kept) when memory, the cipher or dup() fails. */
static conn_t *new_conn(int peer_fd, const unsigned char *send_key, const unsigned char *recv_key, int is_client, double id) {
  conn_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->out = malloc(OUTCAP);
  c->in = malloc(MAXREC);
  c->clear = malloc(MAXPLAIN);
  c->seal_ctx = EVP_CIPHER_CTX_new();
  c->open_ctx = EVP_CIPHER_CTX_new();
  memcpy(c->seal_key, send_key, KEY_LEN);
  memcpy(c->open_key, recv_key, KEY_LEN);
  if (!c->out || !c->in || !c->clear || !c->seal_ctx || !c->open_ctx || !EVP_EncryptInit_ex(c->seal_ctx, EVP_aes_256_gcm(), NULL, c->seal_key, NULL) ||
      !EVP_DecryptInit_ex(c->open_ctx, EVP_aes_256_gcm(), NULL, c->open_key, NULL)) {
    free_conn(c);
    errno = ENOMEM;
    return NULL;
  }
  c->peer.fd = fcntl(peer_fd, F_DUPFD_CLOEXEC, 0);
  if (c->peer.fd < 0) {
    int err = errno;
    free_conn(c);
    errno = err;
    return NULL;
  }
  c->peer.c = c;
  c->id = id;
  c->is_client = is_client;
  c->pending_fd = -1;
  c->state = is_client ? S_IDLE : S_WAIT_OPEN;
  return c;
}

static int get_key(napi_env env, napi_value v, const char *name, const unsigned char **key) {
  size_t len = 0;
  if (!lanyard_get_bytes(env, v, name, key, &len)) return 0;
  if (len == KEY_LEN) return 1;
  char msg[96];
  snprintf(msg, sizeof msg, "%s must be %d bytes", name, KEY_LEN);
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
  return 0;
}

static int get_id(napi_env env, napi_value v, const char *name, double *out) { return lanyard_get_integer(env, v, name, 1, MAX_ID, out); }

static int require_init(napi_env env) {
  if (initialized) return 1;
  napi_throw_error(env, "ERR_LANYARD_RELAY_NOT_INITIALIZED", "relayInit() must be called first");
  return 0;
}

/* Reads options.<name> when present: an integer from min to max. */
static int get_option(napi_env env, napi_value options, const char *name, double min, double max, double *out) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  if (napi_has_named_property(env, options, name, &has) != napi_ok || !has) return 1;
  if (napi_get_named_property(env, options, name, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_undefined) return 1;
  char field[48];
  snprintf(field, sizeof field, "options.%s", name);
  return lanyard_get_integer(env, v, field, min, max, out);
}

napi_value lanyard_relay_init(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], name;
  napi_valuetype t0 = napi_undefined, t1 = napi_undefined;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (initialized) {
    napi_throw_type_error(env, "ERR_LANYARD_RELAY_INITIALIZED", "relayInit() may be called once per process");
    return NULL;
  }
  if (argc < 1 || napi_typeof(env, argv[0], &t0) != napi_ok || t0 != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "onEvent must be a function");
    return NULL;
  }
  if (argc >= 2) NAPI_CALL(env, napi_typeof(env, argv[1], &t1));
  if (t1 != napi_undefined && t1 != napi_object) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "options must be an object");
    return NULL;
  }
  double idle = 3600000, pool_idle = 120000, status = 15000, connect = 5000, keep = 20000, max_idle = 1024, rekey_after = 16777216;
  const double day = 86400000;
  if (t1 == napi_object &&
      (!get_option(env, argv[1], "idleMs", 1, day, &idle) || !get_option(env, argv[1], "poolIdleMs", 1, day, &pool_idle) ||
       !get_option(env, argv[1], "statusTimeoutMs", 1, day, &status) || !get_option(env, argv[1], "connectTimeoutMs", 1, day, &connect) ||
       !get_option(env, argv[1], "keepaliveMs", 0, day, &keep) || !get_option(env, argv[1], "maxIdle", 0, 1e9, &max_idle) ||
       !get_option(env, argv[1], "rekeyAfterRecords", 1, 4294967296.0, &rekey_after)))
    return NULL;
  opt.idle_ms = (int64_t)idle, opt.pool_idle_ms = (int64_t)pool_idle, opt.status_timeout_ms = (int64_t)status;
  opt.connect_timeout_ms = (int64_t)connect, opt.keepalive_ms = (int64_t)keep, opt.max_idle = max_idle, opt.rekey_after = rekey_after;

  NAPI_CALL(env, napi_create_string_utf8(env, "lanyard-relay", NAPI_AUTO_LENGTH, &name));
  NAPI_CALL(env, napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &event_fn));
  NAPI_CALL(env, napi_unref_threadsafe_function(env, event_fn)); /* events must not keep the process alive */
  epfd = epoll_create1(EPOLL_CLOEXEC);
  wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &wake_end};
  pthread_t thread;
  pthread_attr_t attr;
  if (epfd < 0 || wake_fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &ev) < 0 || pthread_attr_init(&attr) != 0) {
    napi_throw_error(env, "ERR_LANYARD_RELAY_START", "relayInit: cannot create the relay's epoll or eventfd");
    return NULL;
  }
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&thread, &attr, relay_thread, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    napi_throw_error(env, "ERR_LANYARD_RELAY_START", "relayInit: cannot start the relay thread");
    return NULL;
  }
  initialized = 1;
  return NULL;
}

napi_value lanyard_relay_connect(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  int app_fd = -1, peer_fd = -1;
  const unsigned char *send_key = NULL, *recv_key = NULL;
  double id = 0, pool_key = 0, stream = 0, port = 0;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "relayConnect(appFd, peerFd, sendKey, recvKey, connection, poolKey, stream, port)");
    return NULL;
  }
  if (!require_init(env) || !lanyard_get_fd(env, argv[0], "appFd", &app_fd) || !lanyard_get_fd(env, argv[1], "peerFd", &peer_fd) ||
      !get_key(env, argv[2], "sendKey", &send_key) || !get_key(env, argv[3], "recvKey", &recv_key) || !get_id(env, argv[4], "connection", &id) ||
      !get_id(env, argv[5], "poolKey", &pool_key) || !get_id(env, argv[6], "stream", &stream) || !lanyard_get_integer(env, argv[7], "port", 1, 65535, &port))
    return NULL;
  conn_t *c = new_conn(peer_fd, send_key, recv_key, 1, id);
  int app = c ? fcntl(app_fd, F_DUPFD_CLOEXEC, 0) : -1;
  if (app < 0) { /* reported as events, like every other end of a stream */
    int err = errno;
    if (c) close(c->peer.fd), free_conn(c);
    emit(EV_ENDED, stream, 0, 0, END_NO_RESOURCES, err);
    emit(EV_CLOSED, id, CLOSED_NO_RESOURCES, 1, 0, 0);
    count(&n_streams, 1);
    count(&n_failed, 1);
    return NULL;
  }
  c->pool_key = pool_key;
  pthread_mutex_lock(&lock);
  c->pending_fd = app;
  c->pending_stream = stream;
  c->pending_port = (int)port;
  enqueue(c);
  pthread_mutex_unlock(&lock);
  wake_relay();
  return NULL;
}

napi_value lanyard_relay_attach(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  int app_fd = -1;
  double pool_key = 0, stream = 0, port = 0, taken = 0;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "relayAttach(appFd, poolKey, stream, port)");
    return NULL;
  }
  if (!require_init(env) || !lanyard_get_fd(env, argv[0], "appFd", &app_fd) || !get_id(env, argv[1], "poolKey", &pool_key) ||
      !get_id(env, argv[2], "stream", &stream) || !lanyard_get_integer(env, argv[3], "port", 1, 65535, &port))
    return NULL;
  /* Without an fd for the stream no connection is taken: the caller dials anew, and
   * relayConnect reports the shortage. */
  int app = fcntl(app_fd, F_DUPFD_CLOEXEC, 0);
  if (app >= 0) {
    pthread_mutex_lock(&lock);
    conn_t *c = pool;
    while (c && c->pool_key != pool_key) c = c->pool_next;
    if (c) {
      pool_remove(c);
      c->pending_fd = app;
      c->pending_stream = stream;
      c->pending_port = (int)port;
      enqueue(c);
      taken = c->id;
    }
    pthread_mutex_unlock(&lock);
    if (c) wake_relay();
    else close(app);
  }
  NAPI_CALL(env, napi_create_double(env, taken, &result));
  return result;
}

napi_value lanyard_relay_serve(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int peer_fd = -1;
  const unsigned char *send_key = NULL, *recv_key = NULL;
  double id = 0;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "relayServe(peerFd, sendKey, recvKey, connection)");
    return NULL;
  }
  if (!require_init(env) || !lanyard_get_fd(env, argv[0], "peerFd", &peer_fd) || !get_key(env, argv[1], "sendKey", &send_key) ||
      !get_key(env, argv[2], "recvKey", &recv_key) || !get_id(env, argv[3], "connection", &id))
    return NULL;
  conn_t *c = new_conn(peer_fd, send_key, recv_key, 0, id);
  if (!c) {
    emit(EV_CLOSED, id, CLOSED_NO_RESOURCES, 0, 0, 0);
    return NULL;
  }
  pthread_mutex_lock(&lock);
  enqueue(c);
  pthread_mutex_unlock(&lock);
  wake_relay();
  return NULL;
}

napi_value lanyard_relay_admit(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  double stream = 0, status = 0, port = 0;
  char host[64];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "relayAdmit(stream, status, host, port)");
    return NULL;
  }
  if (!require_init(env) || !get_id(env, argv[0], "stream", &stream) || !lanyard_get_integer(env, argv[1], "status", 0, 65535, &status)) return NULL;
  command_t m = {.kind = CMD_ADMIT, .id = stream, .status = (int)status};
  if (status == 0) { /* only a literal: resolving a name here would block the JS thread */
    if (!lanyard_get_string(env, argv[2], "host", host, sizeof host) || !lanyard_get_integer(env, argv[3], "port", 1, 65535, &port)) return NULL;
    int truncated = strlen(host) == sizeof host - 1; /* no address literal is that long */
    struct sockaddr_in *v4 = (struct sockaddr_in *)&m.addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&m.addr;
    if (!truncated && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons((uint16_t)port);
      m.addr_len = sizeof *v4;
    } else if (!truncated && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons((uint16_t)port);
      m.addr_len = sizeof *v6;
    } else {
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "host must be an IPv4 or IPv6 address literal");
      return NULL;
    }
  }
  command_t *queued = malloc(sizeof *queued);
  if (!queued) {
    napi_throw_error(env, "ERR_LANYARD_RELAY_NO_MEMORY", "relayAdmit: out of memory");
    return NULL;
  }
  *queued = m;
  pthread_mutex_lock(&lock);
  push_command(queued);
  pthread_mutex_unlock(&lock);
  wake_relay();
  return NULL;
}

napi_value lanyard_relay_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double id = 0;
  bool graceful = false;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_bool(env, argv[1], &graceful) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "graceful must be a boolean");
    return NULL;
  }
  if (!require_init(env) || !get_id(env, argv[0], "connection", &id)) return NULL;
  command_t *m = calloc(1, sizeof *m);
  if (!m) {
    napi_throw_error(env, "ERR_LANYARD_RELAY_NO_MEMORY", "relayClose: out of memory");
    return NULL;
  }
  m->kind = CMD_CLOSE, m->id = id, m->graceful = graceful;
  pthread_mutex_lock(&lock);
  /* Out of the pool now, so a relayAttach that follows cannot take it. */
  for (conn_t *c = pool; c; c = c->pool_next)
    if (c->id == id) {
      pool_remove(c);
      c->no_reuse = 1;
      break;
    }
  push_command(m);
  pthread_mutex_unlock(&lock);
  wake_relay();
  return NULL;
}

napi_value lanyard_relay_drop_pool(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double pool_key = 0;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "relayDropPool(poolKey)");
    return NULL;
  }
  if (!require_init(env) || !get_id(env, argv[0], "poolKey", &pool_key)) return NULL;
  command_t *m = calloc(1, sizeof *m);
  if (!m) {
    napi_throw_error(env, "ERR_LANYARD_RELAY_NO_MEMORY", "relayDropPool: out of memory");
    return NULL;
  }
  m->kind = CMD_DROP, m->id = pool_key;
  pthread_mutex_lock(&lock);
  for (conn_t *c = pool, *next; c; c = next) {
    next = c->pool_next;
    if (c->pool_key != pool_key) continue;
    pool_remove(c);
    c->no_reuse = 1;
  }
  push_command(m);
  pthread_mutex_unlock(&lock);
  wake_relay();
  return NULL;
}

napi_value lanyard_relay_stats(napi_env env, napi_callback_info info) {
  napi_value o, v;
  pthread_mutex_lock(&lock);
  const struct { const char *name; double value; } fields[] = {
      {"connections", n_connections}, {"idle", pool_size}, {"streams", n_streams},
      {"failed", n_failed},           {"rekeys", n_rekeys}, {"pings", n_pings},
  };
  pthread_mutex_unlock(&lock);
  NAPI_CALL(env, napi_create_object(env, &o));
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    NAPI_CALL(env, napi_create_double(env, fields[i].value, &v));
    NAPI_CALL(env, napi_set_named_property(env, o, fields[i].name, v));
  }
  return o;
}

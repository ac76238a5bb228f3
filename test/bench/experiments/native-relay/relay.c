/*
 * An experiment, not a transport (see ../native-pair.mjs): a relay thread that carries bytes
 * between application sockets and peer sockets whose mutual-TLS handshake Node has done,
 * with its own AEAD record layer (AES-256-GCM, keys from the TLS session's exporter), and
 * that reuses each peer connection for one application connection after another. It asks
 * how far the proxy pair's figures move once the bytes stop passing through Node's streams.
 *
 *   connect(appFd, peerFd, sendKey, recvKey, token)  client: a new peer connection, first stream
 *   attach(appFd, token) -> boolean            client: a stream on an idle peer connection
 *   serve(peerFd, sendKey, recvKey, backendPort, connectionToken)
 *                                              server: streams go to 127.0.0.1:backendPort
 *   stats() -> { streams, failed, idle, connections }
 *   hooks(decide, ended)                       optional, both sides: JavaScript's part
 *     decide(token, connectionToken)  server: a stream was opened; answer admit(token, allow)
 *     ended(token, sent, received, failed)  a stream is over (client tokens are the ones
 *                            connect()/attach() were given; server tokens come from decide)
 * With hooks, each stream costs what a sidecar's policy decision and audit records would:
 * a call into JavaScript when it opens (server) and when it ends (both).
 * Every fd passed in is dup()ed here, so the caller may destroy its sockets at once.
 *
 * Records on the peer socket: header (type 1 byte, length 3 bytes big-endian: the ciphertext
 * and its 16-byte tag), then the ciphertext. The header is the AEAD's additional data; the
 * nonce is the direction's record count (64-bit big-endian, zero-padded to 12 bytes), so a
 * reordered, replayed or dropped record fails to open.
 *   OPEN    client -> server, empty: a stream starts. The client's first record on a new
 *           connection, so the server writes nothing before Node's TLS on the client side
 *           has stopped reading
 *   STATUS  server -> client, 1 byte: 0 = the backend is connected, 1 = it refused
 *   DATA    either way, up to 64 KiB of plaintext
 *   END     either way, empty: that direction is finished (shutdown(SHUT_WR) on the app side)
 * After both ENDs the connection is idle: the client pools it, the server waits for OPEN.
 * A peer socket that ends mid-stream, or a record that fails to open, closes the connection
 * and its stream. One epoll thread per process carries everything; callers only queue.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#define T_OPEN 1
#define T_STATUS 2
#define T_DATA 3
#define T_END 4
#define HDR 4
#define TAG 16
#define MAXPLAIN (64 * 1024)
#define MAXREC (HDR + MAXPLAIN + TAG)
#define MAX_IDLE 1024

enum state { OPENING, RUNNING, IDLE, WAIT_OPEN, DECIDING, CONNECTING };

typedef struct relay relay;

/* One registered fd: epoll's data.ptr points here. An application end is made per stream
 * and freed only after the epoll batch, so a stale event in the batch finds it closed. */
typedef struct end_s {
  relay *r;
  int fd, closed, hup; /* hup: off epoll, read to its end by pump_out */
  uint32_t mask;
  struct end_s *next; /* on the list of closed ends */
} end_t;

struct relay {
  end_t peer;
  end_t *plain; /* the stream's application socket, or NULL between streams */
  EVP_CIPHER_CTX *seal, *open;
  uint64_t seal_seq, open_seq;
  int is_client, state, dead, in_pool, registered, refused;
  in_port_t backend_port;
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
  int pending_fd; /* client: the app fd attach() queued */
  double token, pending_token, conn_token;
  uint64_t sent, received; /* this stream's bytes, app -> peer and peer -> app */
  relay *srv_next;         /* server: every live connection (relay thread only) */
  relay *next;    /* on the queue, or the list of dead relays */
  relay *pool_next;
};

static int epfd = -1, wake = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* queue, pool, counters */
static relay *queue;                                     /* new or attached, to arm */
static relay *pool;                                      /* client: idle connections */
static int pool_size;
static relay *dead_relays;
static end_t *dead_ends;
static end_t wake_end;
static double n_streams, n_failed, n_connections;
static napi_threadsafe_function decide_fn, ended_fn;
static int has_hooks;
static double next_token;
static relay *servers;
typedef struct decision { double token; int allow; struct decision *next; } decision;
static decision *decisions; /* admit() answers, under lock */
typedef struct { double token, sent, received; int failed; } event_t; /* decide: sent = the connection's token */

static void nonce(unsigned char iv[12], uint64_t seq) {
  memset(iv, 0, 4);
  for (int i = 0; i < 8; i++) iv[4 + i] = (unsigned char)(seq >> (56 - 8 * i));
}

/* Seals `n` plaintext bytes as a record of `type` into r->out (which must be empty). */
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

static void set_mask(end_t *e, uint32_t want) {
  if (!e || e->closed || e->hup || e->mask == want) return;
  struct epoll_event ev = {.events = want, .data.ptr = e};
  epoll_ctl(epfd, EPOLL_CTL_MOD, e->fd, &ev);
  e->mask = want;
}

static end_t *add_end(relay *r, int fd, uint32_t mask) {
  end_t *e = calloc(1, sizeof *e);
  e->r = r;
  e->fd = fd;
  e->mask = mask;
  struct epoll_event ev = {.events = mask, .data.ptr = e};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  return e;
}

static void close_end(end_t *e) {
  if (!e || e->closed) return;
  e->closed = 1;
  epoll_ctl(epfd, EPOLL_CTL_DEL, e->fd, NULL);
  close(e->fd);
  e->next = dead_ends;
  dead_ends = e;
}

/* Ends the current stream (its app socket closes) and resets the stream's state. */
static void report(napi_threadsafe_function fn, double token, double sent, double received, int failed) {
  event_t *ev = malloc(sizeof *ev);
  if (!ev) return;
  ev->token = token, ev->sent = sent, ev->received = received, ev->failed = failed;
  if (napi_call_threadsafe_function(fn, ev, napi_tsfn_nonblocking) != napi_ok) free(ev);
}

static void count_stream(int failed) {
  pthread_mutex_lock(&lock);
  n_streams++;
  if (failed) n_failed++;
  pthread_mutex_unlock(&lock);
}

static void end_stream(relay *r, int failed) {
  if (has_hooks) report(ended_fn, r->token, (double)r->sent, (double)r->received, failed);
  r->sent = r->received = 0;
  close_end(r->plain);
  r->plain = NULL;
  r->out_len = r->out_off = 0;
  r->clear_len = r->clear_off = 0;
  r->plain_eof = r->end_sent = r->end_got = 0;
  count_stream(failed);
}

static void kill_relay(relay *r) {
  if (r->dead) return;
  if (r->plain) end_stream(r, 1);
  pthread_mutex_lock(&lock);
  if (r->in_pool) {
    for (relay **p = &pool; *p; p = &(*p)->pool_next)
      if (*p == r) {
        *p = r->pool_next;
        pool_size--;
        break;
      }
    r->in_pool = 0;
  }
  n_connections--;
  pthread_mutex_unlock(&lock);
  for (relay **p = &servers; *p; p = &(*p)->srv_next)
    if (*p == r) {
      *p = r->srv_next;
      break;
    }
  if (r->state == DECIDING && has_hooks) report(ended_fn, r->token, 0, 0, 1);
  r->dead = 1;
  epoll_ctl(epfd, EPOLL_CTL_DEL, r->peer.fd, NULL);
  close(r->peer.fd);
  r->next = dead_relays;
  dead_relays = r;
}

static void free_relay(relay *r) {
  EVP_CIPHER_CTX_free(r->seal);
  EVP_CIPHER_CTX_free(r->open);
  free(r->out);
  free(r->in);
  free(r->clear);
  free(r);
}

static void bury(void) {
  while (dead_ends) {
    end_t *e = dead_ends;
    dead_ends = e->next;
    free(e);
  }
  while (dead_relays) {
    relay *r = dead_relays;
    dead_relays = r->next;
    free_relay(r);
  }
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

/* -1: the stream's app socket failed (the connection may live on); 0: would block. */
static int flush_clear(relay *r) {
  if (r->plain->closed) { /* the app is gone: what it would have got is dropped */
    r->clear_len = r->clear_off = 0;
    return 1;
  }
  while (r->clear_off < r->clear_len) {
    ssize_t w = send(r->plain->fd, r->clear + r->clear_off, r->clear_len - r->clear_off, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN ? 0 : -1;
    r->clear_off += (size_t)w;
    r->received += (uint64_t)w;
  }
  r->clear_len = r->clear_off = 0;
  return 1;
}

/* plain -> peer while the stream runs. <0: the connection is broken. */
static int pump_out(relay *r) {
  int drained = 0; /* a short read: epoll (level-triggered) says when there is more */
  for (;;) {
    int f = flush_out(r);
    if (f <= 0) return f;
    if (drained) return 1;
    if (r->state != RUNNING || r->end_sent) return 1;
    if (r->plain_eof) {
      if (seal(r, T_END, NULL, 0) < 0) return -EPROTO;
      r->end_sent = 1;
      continue;
    }
    unsigned char buf[MAXPLAIN];
    ssize_t n = recv(r->plain->fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EAGAIN) return 1;
    if (n <= 0) { /* EOF, or the app socket failed: either way this direction ends */
      r->plain_eof = 1;
      continue;
    }
    r->sent += (uint64_t)n;
    drained = !r->plain->hup && (size_t)n < sizeof buf;
    if (seal(r, T_DATA, buf, (size_t)n) < 0) return -EPROTO;
  }
}

/* The stream is refused before it had an app socket (server). */
static void refuse(relay *r) {
  unsigned char refused = 1;
  seal(r, T_STATUS, &refused, 1);
  if (has_hooks) report(ended_fn, r->token, 0, 0, 1);
  r->state = WAIT_OPEN;
  count_stream(1);
}

static void start_backend(relay *r) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = r->backend_port};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS)) {
    if (fd >= 0) close(fd);
    refuse(r);
    return;
  }
  r->plain = add_end(r, fd, EPOLLOUT);
  r->state = CONNECTING;
}

/* The backend connect finished (server). */
static void backend_ready(relay *r) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(r->plain->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  unsigned char status = err ? 1 : 0;
  if (err) {
    end_stream(r, 1);
    r->state = WAIT_OPEN;
  } else {
    r->state = RUNNING;
  }
  seal(r, T_STATUS, &status, 1);
}

/* peer -> plain. <0: the connection is broken. */
static int pump_in(relay *r) {
  int drained = 0;
  for (;;) {
    if (r->clear_off < r->clear_len) {
      int f = flush_clear(r);
      if (f == 0) return 1;
      if (f < 0) { /* the app stopped reading: drop what it would have got */
        r->clear_len = r->clear_off = 0;
      }
    }
    if (r->state == CONNECTING || r->state == DECIDING || (r->state != RUNNING && r->out_len)) return 1; /* one control record at a time */
    if (r->state == RUNNING && r->end_got) return 1; /* nothing more until the stream settles */
    if (r->in_len >= HDR) {
      size_t len = ((size_t)r->in[1] << 16) | ((size_t)r->in[2] << 8) | r->in[3];
      if (len < TAG || len > MAXPLAIN + TAG) return -EPROTO;
      if (r->in_len >= HDR + len) {
        int type = open_record(r, len);
        if (type < 0) return -EBADMSG;
        memmove(r->in, r->in + HDR + len, r->in_len - HDR - len);
        r->in_len -= HDR + len;
        if (type == T_DATA && r->state == RUNNING && !r->end_got) {
          continue;
        } else if (type == T_END && r->state == RUNNING && !r->end_got && !r->clear_len) {
          r->end_got = 1;
          /* When this END completes the stream, settle() closes the app socket after pooling
           * the connection, so the app cannot see its end before the connection is idle. */
          int complete = r->end_sent && r->out_len == 0;
          if (!complete && !r->plain->closed) shutdown(r->plain->fd, SHUT_WR);
        } else if (type == T_OPEN && !r->is_client && r->state == WAIT_OPEN && !r->clear_len) {
          if (has_hooks) {
            r->state = DECIDING;
            r->token = ++next_token;
            report(decide_fn, r->token, r->conn_token, 0, 0);
            return 1;
          }
          start_backend(r);
        } else if (type == T_STATUS && r->is_client && r->state == OPENING && r->clear_len == 1) {
          int ok = r->clear[0] == 0;
          r->clear_len = 0;
          if (ok) {
            r->state = RUNNING;
          } else {
            r->refused = 1; /* step() closes the app socket and pools the connection */
            return 1;
          }
        } else {
          return -EPROTO;
        }
        if (r->state == RUNNING) return 2; /* let the caller run pump_out too */
        continue;
      }
    }
    if (drained) return 1;
    ssize_t n = recv(r->peer.fd, r->in + r->in_len, MAXREC - r->in_len, 0);
    if (n < 0) return errno == EAGAIN ? 1 : -errno;
    if (n == 0) return -ECONNRESET;
    drained = (size_t)n < MAXREC - r->in_len;
    r->in_len += (size_t)n;
  }
}

/* The stream is over: the connection goes idle (pooled, or waiting for OPEN). A client's
 * connection is pooled before its app socket closes, so an application that connects again
 * as soon as it sees the close finds the connection idle. attach() only queues it, and the
 * queue is armed after this epoll batch, when the stream's state is reset. */
static void settle(relay *r, int failed) {
  if (!r->is_client) {
    end_stream(r, failed);
    r->state = WAIT_OPEN;
    return;
  }
  r->state = IDLE;
  pthread_mutex_lock(&lock);
  int keep = pool_size < MAX_IDLE;
  if (keep) {
    r->pool_next = pool;
    pool = r;
    pool_size++;
    r->in_pool = 1;
  }
  pthread_mutex_unlock(&lock);
  end_stream(r, failed);
  if (!keep) kill_relay(r);
}

static void step(relay *r, end_t *e, uint32_t events) {
  if (r->dead || (e && e->closed)) return;
  if (e && e == r->plain && r->state == CONNECTING) {
    backend_ready(r);
  } else if (e && e == r->plain && (events & EPOLLERR) && r->state == RUNNING) {
    /* The app reset its socket: stop watching it (ERR would fire until the stream settles),
     * end this direction, and drop what the peer still sends for it. */
    r->plain_eof = 1;
    close_end(r->plain);
  } else if (e && e == r->plain && (events & EPOLLHUP) && r->state == RUNNING && !e->hup) {
    /* Shut both ways (its FIN came after our END's shutdown), but what it sent before its FIN
     * may still be queued. Level-triggered HUP would fire on every wake-up until then, so the
     * socket leaves epoll; pump_out, run whenever the peer socket can take more, reads it to
     * its end. */
    e->hup = 1;
    epoll_ctl(epfd, EPOLL_CTL_DEL, e->fd, NULL);
  } else if (e == &r->peer && r->state == IDLE) {
    pthread_mutex_lock(&lock);
    int pooled = r->in_pool;
    pthread_mutex_unlock(&lock);
    if (pooled) kill_relay(r); /* an idle connection spoke or closed: it cannot be reused */
    return;                    /* taken by attach(): arm_new() runs it */
  }
  for (int round = 0; round < 4; round++) {
    int o = pump_out(r);
    int i = o < 0 ? o : pump_in(r);
    if (o < 0 || i < 0) {
      kill_relay(r);
      return;
    }
    if (r->refused || (r->state == RUNNING && r->end_sent && r->out_len == 0 && r->end_got && r->clear_len == 0)) {
      settle(r, r->refused);
      r->refused = 0;
      if (r->dead) return;
      if (r->out_len || r->in_len) continue; /* a client record, or the next OPEN, waiting */
    }
    if (i != 2) break;
  }
  int out_pending = r->out_len > 0, clear_pending = r->clear_len > 0;
  if (r->plain && r->state != CONNECTING) {
    uint32_t m = 0;
    if (r->state == RUNNING && !r->plain_eof && !out_pending) m |= EPOLLIN;
    if (clear_pending) m |= EPOLLOUT;
    set_mask(r->plain, m);
  }
  uint32_t p = 0;
  if (!clear_pending && !(r->state == RUNNING && r->end_got) && r->state != CONNECTING && r->state != DECIDING &&
      !(r->state != RUNNING && out_pending))
    p |= EPOLLIN;
  if (out_pending) p |= EPOLLOUT;
  if (r->state == IDLE) p = EPOLLIN;
  set_mask(&r->peer, p);
}

/* Arms what connect(), attach() and serve() queued. */
static void arm_new(void) {
  uint64_t n;
  if (read(wake, &n, sizeof n) < 0 && errno != EAGAIN) return;
  pthread_mutex_lock(&lock);
  relay *r = queue;
  queue = NULL;
  decision *d = decisions;
  decisions = NULL;
  pthread_mutex_unlock(&lock);
  while (d) {
    decision *next = d->next;
    for (relay *s = servers; s; s = s->srv_next) {
      if (s->state != DECIDING || s->token != d->token) continue;
      if (d->allow) start_backend(s);
      else refuse(s);
      step(s, NULL, 0);
      break;
    }
    free(d);
    d = next;
  }
  while (r) {
    relay *next = r->next;
    if (!r->registered) { /* a new connection */
      r->registered = 1;
      pthread_mutex_lock(&lock);
      n_connections++;
      pthread_mutex_unlock(&lock);
      if (!r->is_client) r->srv_next = servers, servers = r;
      r->peer.mask = EPOLLIN;
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &r->peer};
      epoll_ctl(epfd, EPOLL_CTL_ADD, r->peer.fd, &ev);
    }
    if (r->is_client) {
      r->plain = add_end(r, r->pending_fd, 0);
      r->pending_fd = -1;
      r->token = r->pending_token;
      r->state = OPENING;
      seal(r, T_OPEN, NULL, 0);
    }
    step(r, NULL, 0);
    r = next;
  }
}

static void *loop(void *arg) {
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(epfd, evs, 64, -1);
    int woken = 0;
    for (int i = 0; i < n; i++) {
      end_t *e = evs[i].data.ptr;
      if (e == &wake_end) woken = 1;
      else step(e->r, e, evs[i].events);
    }
    bury(); /* after the batch: a later event in it may name an end closed earlier */
    if (woken) arm_new();
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

/* Wakes the relay thread to arm the queue and apply the decisions. */
static void wake_relay(void) {
  uint64_t one = 1;
  if (write(wake, &one, sizeof one) < 0) abort();
}

static void enqueue(relay *r) {
  pthread_mutex_lock(&lock);
  r->next = queue;
  queue = r;
  pthread_mutex_unlock(&lock);
  wake_relay();
}

static int dup_fd(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

/* NULL (nothing allocated, no fd kept) when memory, the cipher or dup() fails. */
static relay *new_relay(int peer_fd, const void *skey, const void *rkey, int is_client) {
  relay *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->out = malloc(MAXREC);
  r->in = malloc(MAXREC);
  r->clear = malloc(MAXPLAIN);
  r->seal = EVP_CIPHER_CTX_new();
  r->open = EVP_CIPHER_CTX_new();
  r->peer.fd = -1;
  if (!r->out || !r->in || !r->clear || !r->seal || !r->open || !EVP_EncryptInit_ex(r->seal, EVP_aes_256_gcm(), NULL, skey, NULL) ||
      !EVP_DecryptInit_ex(r->open, EVP_aes_256_gcm(), NULL, rkey, NULL) || (r->peer.fd = dup_fd(peer_fd)) < 0) {
    free_relay(r);
    return NULL;
  }
  r->is_client = is_client;
  r->peer.r = r;
  r->pending_fd = -1;
  r->state = is_client ? OPENING : WAIT_OPEN;
  return r;
}

static int get_key(napi_env env, napi_value v, void **key) {
  size_t len = 0;
  return napi_get_buffer_info(env, v, key, &len) == napi_ok && len == 32;
}

static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t app_fd = -1, peer_fd = -1;
  double token = 0;
  void *skey, *rkey;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5 || napi_get_value_int32(env, argv[0], &app_fd) != napi_ok || napi_get_value_int32(env, argv[1], &peer_fd) != napi_ok ||
      !get_key(env, argv[2], &skey) || !get_key(env, argv[3], &rkey) || napi_get_value_double(env, argv[4], &token) != napi_ok) {
    napi_throw_type_error(env, NULL, "connect(appFd, peerFd, sendKey[32], recvKey[32], token)");
    return NULL;
  }
  pthread_once(&once, start);
  relay *r = new_relay(peer_fd, skey, rkey, 1);
  int app = r ? dup_fd(app_fd) : -1;
  if (app < 0) {
    if (r) close(r->peer.fd), free_relay(r);
    napi_throw_error(env, NULL, "connect: out of memory or file descriptors");
    return NULL;
  }
  r->pending_fd = app;
  r->pending_token = token;
  enqueue(r);
  return NULL;
}

static napi_value js_attach(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  int32_t app_fd = -1;
  double token = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int32(env, argv[0], &app_fd) != napi_ok || napi_get_value_double(env, argv[1], &token) != napi_ok) {
    napi_throw_type_error(env, NULL, "attach(appFd, token)");
    return NULL;
  }
  pthread_mutex_lock(&lock);
  relay *r = pool;
  if (r) {
    pool = r->pool_next;
    pool_size--;
    r->in_pool = 0;
  }
  pthread_mutex_unlock(&lock);
  if (r) {
    r->pending_fd = dup_fd(app_fd);
    r->pending_token = token;
    if (r->pending_fd < 0) {
      /* No fd for the stream: the connection goes back to the pool, the caller dials anew. */
      pthread_mutex_lock(&lock);
      r->pool_next = pool, pool = r, pool_size++, r->in_pool = 1;
      pthread_mutex_unlock(&lock);
      r = NULL;
    } else {
      enqueue(r);
    }
  }
  napi_get_boolean(env, r != NULL, &result);
  return result;
}

static napi_value js_serve(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t peer_fd = -1, port = 0;
  double conn_token = 0;
  void *skey, *rkey;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5 || napi_get_value_double(env, argv[4], &conn_token) != napi_ok || napi_get_value_int32(env, argv[0], &peer_fd) != napi_ok || !get_key(env, argv[1], &skey) || !get_key(env, argv[2], &rkey) ||
      napi_get_value_int32(env, argv[3], &port) != napi_ok || port <= 0 || port > 65535) {
    napi_throw_type_error(env, NULL, "serve(peerFd, sendKey[32], recvKey[32], backendPort, connectionToken)");
    return NULL;
  }
  pthread_once(&once, start);
  relay *r = new_relay(peer_fd, skey, rkey, 0);
  if (!r) {
    napi_throw_error(env, NULL, "serve: out of memory or file descriptors");
    return NULL;
  }
  r->backend_port = htons((uint16_t)port);
  r->conn_token = conn_token;
  enqueue(r);
  return NULL;
}

static void call_event(napi_env env, napi_value cb, void *ctx, void *data) {
  event_t *ev = data;
  if (env && ev) {
    napi_value argv[4], undef;
    napi_get_undefined(env, &undef);
    napi_create_double(env, ev->token, &argv[0]);
    napi_create_double(env, ev->sent, &argv[1]);
    napi_create_double(env, ev->received, &argv[2]);
    napi_get_boolean(env, ev->failed != 0, &argv[3]);
    napi_call_function(env, undef, cb, 4, argv, NULL);
  }
  free(ev);
}

static napi_value js_hooks(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], name;
  napi_valuetype t0, t1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_typeof(env, argv[0], &t0) != napi_ok || napi_typeof(env, argv[1], &t1) != napi_ok || t0 != napi_function ||
      t1 != napi_function || has_hooks) {
    napi_throw_type_error(env, NULL, "hooks(decide, ended), once");
    return NULL;
  }
  napi_create_string_utf8(env, "relay-hooks", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, NULL, call_event, &decide_fn);
  napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, call_event, &ended_fn);
  napi_unref_threadsafe_function(env, decide_fn);
  napi_unref_threadsafe_function(env, ended_fn);
  has_hooks = 1;
  return NULL;
}

static napi_value js_admit(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double token = 0;
  bool allow = false;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_double(env, argv[0], &token) != napi_ok || napi_get_value_bool(env, argv[1], &allow) != napi_ok) {
    napi_throw_type_error(env, NULL, "admit(token, allow)");
    return NULL;
  }
  decision *d = malloc(sizeof *d);
  if (!d) {
    napi_throw_error(env, NULL, "admit: out of memory");
    return NULL;
  }
  d->token = token;
  d->allow = allow;
  pthread_mutex_lock(&lock);
  d->next = decisions;
  decisions = d;
  pthread_mutex_unlock(&lock);
  wake_relay();
  return NULL;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value o, v;
  napi_create_object(env, &o);
  pthread_mutex_lock(&lock);
  double s = n_streams, f = n_failed, c = n_connections, i = pool_size;
  pthread_mutex_unlock(&lock);
  napi_create_double(env, s, &v), napi_set_named_property(env, o, "streams", v);
  napi_create_double(env, f, &v), napi_set_named_property(env, o, "failed", v);
  napi_create_double(env, c, &v), napi_set_named_property(env, o, "connections", v);
  napi_create_double(env, i, &v), napi_set_named_property(env, o, "idle", v);
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  const struct { const char *name; napi_callback fn; } fns[] = {
      {"connect", js_connect}, {"attach", js_attach}, {"serve", js_serve},
      {"stats", js_stats},     {"hooks", js_hooks},   {"admit", js_admit}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }

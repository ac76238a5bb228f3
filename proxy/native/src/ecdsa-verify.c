/*
 * ecdsaVerify(curve, point, hash, data, derSignature) -> boolean
 *
 * Why this exists: verifying a CSR's self-signature through node:crypto costs ~155 us per
 * fresh key on OpenSSL 3 (the raw-point import builds a new EC_GROUP from the curve name,
 * twice, and the provider/decoder layers add more), against ~70 us for the ECDSA maths. Here
 * one EC_GROUP per curve is built when the addon loads and each call only attaches the
 * workload's point to it, through OpenSSL's EC_KEY/ECDSA_verify API. That API is deprecated
 * in OpenSSL 3 but still shipped, and Node exports it from its own (statically linked)
 * OpenSSL, so nothing here links a second libcrypto.
 *
 * Contract: returns true only for a valid signature by a valid point; false for every bad
 * input (off-curve point, point at infinity, wrong length, truncated or non-canonical DER,
 * empty buffers); throws only TypeError for wrong argument types or unknown curve/hash
 * names. Every allocation is freed on every path.
 */
#define OPENSSL_API_COMPAT 0x10100000L
#define OPENSSL_SUPPRESS_DEPRECATED
#include "args.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

enum { CURVE_P256, CURVE_P384, CURVE_COUNT };

/* Built once per process and only read afterwards (EC_KEY_set_group copies it), so worker
 * threads loading the addon share it safely. Never freed: it lives as long as the process. */
static EC_GROUP *groups[CURVE_COUNT];
static pthread_once_t groups_once = PTHREAD_ONCE_INIT;
static int groups_ok;

static void build_groups(void) {
  groups[CURVE_P256] = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  groups[CURVE_P384] = EC_GROUP_new_by_curve_name(NID_secp384r1);
  groups_ok = groups[CURVE_P256] != NULL && groups[CURVE_P384] != NULL;
  ERR_clear_error();
}

int lanyard_ecdsa_init(void) {
  if (pthread_once(&groups_once, build_groups) != 0) return 0;
  return groups_ok;
}

static int curve_index(const char *name) {
  if (strcmp(name, "P-256") == 0) return CURVE_P256;
  if (strcmp(name, "P-384") == 0) return CURVE_P384;
  return -1;
}

/* Digest lengths by hash name; 0 for a name we do not accept. */
static size_t digest_length(const char *hash) {
  if (strcmp(hash, "sha256") == 0) return SHA256_DIGEST_LENGTH;
  if (strcmp(hash, "sha384") == 0) return SHA384_DIGEST_LENGTH;
  if (strcmp(hash, "sha512") == 0) return SHA512_DIGEST_LENGTH;
  return 0;
}

/* The one-shot SHA*() functions skip the EVP provider fetch that EVP_Digest does per call. */
static int digest(size_t dgst_len, const unsigned char *data, size_t len, unsigned char out[SHA512_DIGEST_LENGTH]) {
  static const unsigned char empty[1] = {0};
  const unsigned char *d = data ? data : empty;
  switch (dgst_len) {
    case SHA256_DIGEST_LENGTH: return SHA256(d, len, out) != NULL;
    case SHA384_DIGEST_LENGTH: return SHA384(d, len, out) != NULL;
    case SHA512_DIGEST_LENGTH: return SHA512(d, len, out) != NULL;
    default: return 0;
  }
}

/* The verification proper; returns 1 only for a good signature. */
static int verify(const EC_GROUP *group, const unsigned char *point, size_t point_len, const unsigned char *dgst, size_t dgst_len,
                  const unsigned char *sig, size_t sig_len) {
  if (point_len == 0 || sig_len == 0 || sig_len > INT_MAX) return 0;
  int ok = 0;
  EC_KEY *key = EC_KEY_new();
  EC_POINT *pub = EC_POINT_new(group);
  if (key == NULL || pub == NULL) goto done;
  if (EC_KEY_set_group(key, group) != 1) goto done;
  /* oct2point refuses points that are not on the curve. It accepts the one-byte encoding of
   * the point at infinity, with which anyone could forge a signature, so refuse that here. */
  if (EC_POINT_oct2point(group, pub, point, point_len, NULL) != 1) goto done;
  if (EC_POINT_is_at_infinity(group, pub)) goto done;
  if (EC_KEY_set_public_key(key, pub) != 1) goto done;
  /* ECDSA_verify also refuses DER with trailing bytes or a non-minimal encoding. */
  ok = ECDSA_verify(0, dgst, (int)dgst_len, sig, (int)sig_len, key) == 1;
done:
  EC_POINT_free(pub);
  EC_KEY_free(key);
  /* A refused input leaves errors on this thread's OpenSSL queue; node:crypto calls made later
   * on the same thread must not find them. */
  if (!ok) ERR_clear_error();
  return ok;
}

napi_value lanyard_ecdsa_verify(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "ecdsaVerify(curve, point, hash, data, derSignature) takes 5 arguments");
    return NULL;
  }
  char curve[16], hash[16];
  const unsigned char *point, *data, *sig;
  size_t point_len, data_len, sig_len;
  if (!lanyard_get_string(env, argv[0], "curve", curve, sizeof curve)) return NULL;
  if (!lanyard_get_bytes(env, argv[1], "point", &point, &point_len)) return NULL;
  if (!lanyard_get_string(env, argv[2], "hash", hash, sizeof hash)) return NULL;
  if (!lanyard_get_bytes(env, argv[3], "data", &data, &data_len)) return NULL;
  if (!lanyard_get_bytes(env, argv[4], "derSignature", &sig, &sig_len)) return NULL;

  int c = curve_index(curve);
  if (c < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "curve must be 'P-256' or 'P-384'");
    return NULL;
  }
  size_t dgst_len = digest_length(hash);
  if (dgst_len == 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "hash must be 'sha256', 'sha384' or 'sha512'");
    return NULL;
  }
  unsigned char dgst[SHA512_DIGEST_LENGTH];
  int ok = digest(dgst_len, data, data_len, dgst) && verify(groups[c], point, point_len, dgst, dgst_len, sig, sig_len);
  napi_value result;
  NAPI_CALL(env, napi_get_boolean(env, ok, &result));
  return result;
}

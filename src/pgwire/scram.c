/* scram.c — SCRAM-SHA-256 server exchange for pgwire (RFC 5802 / 7677, as in
 * PostgreSQL's "SASL Authentication" section).
 *
 * Exchange (all attribute=value lists are comma-separated ASCII):
 *   client-first  = gs2-header client-first-bare
 *     gs2-header  = "n,," (no channel binding) or "y,," (client could, we
 *                   offer none); "p=..." is refused: braid has no TLS to bind.
 *     client-first-bare = "n=" user (ignored: PostgreSQL uses the startup
 *                   user), ",r=" client nonce
 *   server-first  = "r=" client nonce + server nonce ",s=" base64 salt ",i=" iterations
 *   client-final  = "c=" base64(gs2-header) ",r=" nonce ",p=" base64 proof
 *   server-final  = "v=" base64 server signature
 * Keys: SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, i);
 *   ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
 *   ServerKey = HMAC(SaltedPassword, "Server Key"),
 *   AuthMessage = client-first-bare "," server-first "," client-final-without-proof,
 *   proof = ClientKey XOR HMAC(StoredKey, AuthMessage); the server checks
 *   H(proof XOR HMAC(StoredKey, AuthMessage)) == StoredKey (constant time).
 * The salt is fresh per connection because braid keeps the password itself,
 * not a stored verifier; the iteration count is PostgreSQL's default 4096. */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/util.h"
#include "pgwire/scram.h"

#define ITER 4096

struct br_pg_scram {
	char *password;
	int step;
	char *client_first_bare, *server_first, *nonce, *gs2;
	uint8_t salt[16];
};

br_pg_scram *br_pg_scram_new(const char *password)
{
	br_pg_scram *s = br_xcalloc(1, sizeof *s);
	s->password = br_xstrdup(password);
	return s;
}

void br_pg_scram_free(br_pg_scram *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s->password, strlen(s->password));
	free(s->password);
	free(s->client_first_bare);
	free(s->server_first);
	free(s->nonce);
	free(s->gs2);
	free(s);
}

static char *b64(const uint8_t *p, size_t n)
{
	char *o = br_xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)o, p, (int)n);
	return o;
}

/* Strict base64 decode; returns the length or -1. */
static int unb64(const char *s, size_t n, uint8_t *out, size_t cap)
{
	if (n % 4 || n / 4 * 3 > cap)
		return -1;
	int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (len < 0)
		return -1;
	if (n >= 1 && s[n - 1] == '=')
		len--;
	if (n >= 2 && s[n - 2] == '=')
		len--;
	return len;
}

/* Value of attribute a in a comma-separated list (points into msg, length in *len). */
static const char *attr(const char *msg, size_t n, char a, size_t *len)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && msg[j] != ',')
			j++;
		if (j - i >= 2 && msg[i] == a && msg[i + 1] == '=') {
			*len = j - i - 2;
			return msg + i + 2;
		}
		i = j + 1;
	}
	return NULL;
}

static int first(br_pg_scram *s, const uint8_t *body, size_t n, br_buf *reply, br_err *err)
{
	br_cur cu = br_cur_make(body, n);
	const uint8_t *mech = cu.p;
	const uint8_t *z = memchr(mech, 0, n);
	if (!z)
		return br_errf(err, BR_ECORRUPT, "malformed SASLInitialResponse message");
	cu.pos = (size_t)(z - mech) + 1;
	if (strcmp((const char *)mech, "SCRAM-SHA-256"))
		return br_errf(err, BR_EUNSUPPORTED, "client selected an invalid SASL authentication mechanism");
	int32_t len = (int32_t)br_cur_be32(&cu);
	const char *m = len >= 0 ? (const char *)br_cur_take(&cu, (size_t)len) : NULL;
	if (!m || br_cur_left(&cu) != 0)
		return br_errf(err, BR_ECORRUPT, "malformed SASLInitialResponse message");
	size_t ml = (size_t)len;
	if (ml < 3 || (m[0] != 'n' && m[0] != 'y') || m[1] != ',')
		return br_errf(err, m && ml && m[0] == 'p' ? BR_EUNSUPPORTED : BR_ECORRUPT,
			       "malformed SCRAM message: unsupported or missing channel binding flag");
	const char *c2 = memchr(m + 2, ',', ml - 2);
	if (!c2 || c2 != m + 2) /* no authzid */
		return br_errf(err, BR_EUNSUPPORTED, "malformed SCRAM message: authorization identity is not supported");
	size_t gl = (size_t)(c2 - m) + 1;
	s->gs2 = br_xasprintf("%.*s", (int)gl, m);
	const char *bare = m + gl;
	size_t bl = ml - gl;
	size_t rl;
	const char *r = attr(bare, bl, 'r', &rl);
	if (!r || rl == 0 || memchr(bare, 0, bl) || memchr(r, ',', rl))
		return br_errf(err, BR_ECORRUPT, "malformed SCRAM message: missing client nonce");
	s->client_first_bare = br_xasprintf("%.*s", (int)bl, bare);
	uint8_t rnd[18];
	if (RAND_bytes(rnd, sizeof rnd) != 1 || RAND_bytes(s->salt, sizeof s->salt) != 1)
		return br_errf(err, BR_EIO, "could not generate random nonce");
	char *sn = b64(rnd, sizeof rnd), *salt = b64(s->salt, sizeof s->salt);
	s->nonce = br_xasprintf("%.*s%s", (int)rl, r, sn);
	s->server_first = br_xasprintf("r=%s,s=%s,i=%d", s->nonce, salt, ITER);
	free(sn);
	free(salt);
	br_buf_put(reply, s->server_first, strlen(s->server_first));
	s->step = 1;
	return 0;
}

static void hmac(const uint8_t *key, size_t kl, const void *msg, size_t ml, uint8_t out[32])
{
	unsigned int ol = 32;
	HMAC(EVP_sha256(), key, (int)kl, msg, ml, out, &ol);
}

static int final(br_pg_scram *s, const uint8_t *body, size_t n, br_buf *reply, br_err *err)
{
	const char *m = (const char *)body;
	if (memchr(m, 0, n))
		return br_errf(err, BR_ECORRUPT, "malformed SCRAM message: NUL byte");
	size_t cl, rl, pl;
	const char *cb = attr(m, n, 'c', &cl), *r = attr(m, n, 'r', &rl), *p = attr(m, n, 'p', &pl);
	if (!cb || !r || !p || p < m + 3 || p[-3] != ',')
		return br_errf(err, BR_ECORRUPT, "malformed SCRAM message: expected c=, r= and p= attributes");
	char *want = b64((const uint8_t *)s->gs2, strlen(s->gs2));
	bool cb_ok = strlen(want) == cl && !memcmp(want, cb, cl);
	free(want);
	if (!cb_ok)
		return br_errf(err, BR_ECORRUPT, "SCRAM channel binding check failed");
	if (strlen(s->nonce) != rl || memcmp(s->nonce, r, rl))
		return br_errf(err, BR_ECORRUPT, "SCRAM nonce does not match");
	uint8_t proof[64];
	if (unb64(p, pl, proof, sizeof proof) != 32)
		return br_errf(err, BR_ECORRUPT, "malformed SCRAM message: invalid proof");
	uint8_t salted[32], ckey[32], stored[32], skey[32], csig[32], ssig[32], check[32];
	PKCS5_PBKDF2_HMAC(s->password, (int)strlen(s->password), s->salt, sizeof s->salt, ITER, EVP_sha256(), 32, salted);
	hmac(salted, 32, "Client Key", 10, ckey);
	SHA256(ckey, 32, stored);
	hmac(salted, 32, "Server Key", 10, skey);
	size_t without = (size_t)(p - 3 - m);
	char *auth = br_xasprintf("%s,%s,%.*s", s->client_first_bare, s->server_first, (int)without, m);
	hmac(stored, 32, auth, strlen(auth), csig);
	hmac(skey, 32, auth, strlen(auth), ssig);
	free(auth);
	for (int i = 0; i < 32; i++)
		proof[i] ^= csig[i];
	SHA256(proof, 32, check);
	OPENSSL_cleanse(salted, sizeof salted);
	if (CRYPTO_memcmp(check, stored, 32))
		return br_errf(err, BR_EINVAL, "password authentication failed");
	char *v = b64(ssig, 32);
	br_buf_printf(reply, "v=%s", v);
	free(v);
	s->step = 2;
	return 1;
}

int br_pg_scram_step(br_pg_scram *s, const uint8_t *body, size_t n, br_buf *reply, br_err *err)
{
	if (s->step == 0)
		return first(s, body, n, reply, err);
	if (s->step == 1)
		return final(s, body, n, reply, err);
	return br_errf(err, BR_ECORRUPT, "unexpected SASL message after authentication");
}

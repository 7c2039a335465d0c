/* Signed purchase URLs for nginx's secure_link (secure_link.h). MD5 is
 * secure_link_md5's choice, not ours: it comes from OpenSSL's libcrypto. */
#include "secure_link.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

void secure_link_base64url(const unsigned char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        *out++ = alphabet[v >> 18];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = alphabet[v >> 6 & 63];
        *out++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        *out++ = alphabet[in[i] >> 2];
        *out++ = alphabet[(in[i] & 3) << 4];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

        *out++ = alphabet[v >> 10];
        *out++ = alphabet[v >> 4 & 63];
        *out++ = alphabet[(v & 15) << 2];
    }
    *out = '\0';
}

int secure_link_url(const char *uri, int64_t expires, const char *secret,
                    char *out, size_t size)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char sig[SECURE_LINK_SIG_LEN + 1];
    char *text;
    size_t len = strlen(uri) + strlen(secret) + 24;
    int n, ok;

    if ((text = malloc(len)) == NULL)
        return -1;
    n = snprintf(text, len, "%" PRId64 "%s %s", expires, uri, secret);
    ok = EVP_Digest(text, (size_t)n, md, &mdlen, EVP_md5(), NULL) == 1 && mdlen == 16;
    free(text);
    if (!ok)
        return -1;
    secure_link_base64url(md, mdlen, sig);
    n = snprintf(out, size, "%s?sig=%s&expires=%" PRId64, uri, sig, expires);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

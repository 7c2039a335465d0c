/* Signed, expiring purchase URLs, as nginx's secure_link module checks them
 * with the shipped conf/nginx.conf:
 *
 *   secure_link $arg_sig,$arg_expires;
 *   secure_link_md5 "$secure_link_expires$uri $seckill_link_secret";
 *
 * sig is the MD5 of "<expires><uri> <secret>" in base64url without padding;
 * expires is Unix seconds. */
#ifndef SECKILL_SECURE_LINK_H
#define SECKILL_SECURE_LINK_H

#include <stddef.h>
#include <stdint.h>

/* base64url of the 16 bytes of MD5, no padding */
#define SECURE_LINK_SIG_LEN 22

/* Writes "<uri>?sig=<sig>&expires=<expires>" into out. Returns 0, or -1 when
 * out is too small or MD5 is not available. */
int secure_link_url(const char *uri, int64_t expires, const char *secret,
                    char *out, size_t size);

/* base64url (RFC 4648 §5) of n bytes, without padding; out holds
 * (4 * n + 2) / 3 + 1 bytes. */
void secure_link_base64url(const unsigned char *in, size_t n, char *out);

#endif

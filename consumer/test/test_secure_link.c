/* Signed purchase URLs as nginx's secure_link checks them (secure_link.c).
 * The expected signatures come from another implementation:
 *   python3 -c 'import hashlib, base64; print(base64.urlsafe_b64encode(
 *     hashlib.md5(b"1796119260/api/seckill/7/42 s3cret").digest()))' */
#include "secure_link.h"
#include "unit.h"

static void base64url_uses_the_url_alphabet_without_padding(void)
{
    char out[16];

    secure_link_base64url((const unsigned char *)"foobar", 6, out);
    CHECK_STR(out, "Zm9vYmFy");
    secure_link_base64url((const unsigned char *)"\xfb\xff", 2, out);
    CHECK_STR(out, "-_8");
    secure_link_base64url((const unsigned char *)"\xfb", 1, out);
    CHECK_STR(out, "-w");
    secure_link_base64url((const unsigned char *)"", 0, out);
    CHECK_STR(out, "");
}

static void the_signature_is_md5_of_expires_uri_space_secret(void)
{
    char url[128];

    CHECK(secure_link_url("/api/seckill/7/42", 1796119260, "s3cret", url, sizeof(url)) == 0);
    CHECK_STR(url, "/api/seckill/7/42?sig=wFcdxZkPcnC9o3NjyugT0g&expires=1796119260");
}

static void a_short_buffer_is_an_error(void)
{
    char url[40];

    CHECK(secure_link_url("/api/seckill/7/42", 1796119260, "s3cret", url, sizeof(url)) != 0);
}

void suite_secure_link(void)
{
    UNIT_RUN(base64url_uses_the_url_alphabet_without_padding);
    UNIT_RUN(the_signature_is_md5_of_expires_uri_space_secret);
    UNIT_RUN(a_short_buffer_is_an_error);
}

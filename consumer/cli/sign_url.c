/* `seckill sign-url COURSE USER`: a signed, expiring purchase URL for
 * nginx's secure_link (secure_link.h). */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "ids.h"
#include "secure_link.h"

#define SIGN_URL_TTL_MS 60000

int cmd_sign_url(struct session *s)
{
    const char *secret = NULL;
    uint64_t ids[2];
    int64_t ttl = SIGN_URL_TTL_MS, expires;
    int nids = 0;
    char uri[64], url[sizeof(uri) + SECURE_LINK_SIG_LEN + 48];

    for (int i = 0; i < s->argc; i++) {
        const char *a = s->argv[i];

        if (strcmp(a, "--ttl") == 0 || strcmp(a, "--secret") == 0) {
            if (i + 1 >= s->argc)
                return cli_usage(s, "%s needs a value", a);
            if (a[2] == 's') {
                secret = s->argv[++i];
            } else if (course_parse_duration(s->argv[++i], &ttl) != 0 || ttl < 1000) {
                return cli_usage(s, "--ttl '%s': want a duration such as 60s, 5m, 2h or 1d", s->argv[i]);
            }
        } else if (nids < 2 && parse_id(a, strlen(a), &ids[nids]) == 0) {
            nids++;
        } else {
            return cli_usage(s, "unexpected argument '%s' (want COURSE and USER ids from 1 to %" PRIu64 ")",
                         a, SECKILL_ID_MAX);
        }
    }
    if (nids < 2)
        return cli_usage(s, "want COURSE USER, got %d id(s)", nids);
    if (secret == NULL)
        secret = s->cfg.secure_link_secret;
    if (secret[0] == '\0') {
        /* the stack's run/conf/consumer.conf is rendered from conf/ at every
         * `make run`: an edit belongs in conf/consumer.conf */
        fprintf(stderr, "seckill: sign-url: no secret: give --secret S, or set secure_link_secret in %s "
                "to the value of $seckill_link_secret in nginx.conf%s\n", s->cfg.path,
                strstr(s->cfg.path, "run/conf/consumer.conf") != NULL
                    ? " (for the local stack: in conf/consumer.conf, then `make run`; run/conf/ is "
                      "rewritten from conf/ at every start)"
                    : "");
        return EXIT_RUNTIME;
    }

    /* Rounded up: the link lives at least as long as asked. */
    expires = (now_ms() + ttl + 999) / 1000;
    snprintf(uri, sizeof(uri), "/api/seckill/%" PRIu64 "/%" PRIu64, ids[0], ids[1]);
    if (secure_link_url(uri, expires, secret, url, sizeof(url)) != 0) {
        cli_error("sign-url: cannot compute the MD5 signature (OpenSSL's libcrypto refused MD5)");
        return EXIT_RUNTIME;
    }
    printf("%s\n", url);
    return 0;
}


/*
 * Scripts run by EVALSHA with the SHA1 computed here from the text that
 * the consumer and the CLI compile too.  Each new connection starts with
 * SCRIPT LOAD of every script, so that the EVALSHAs queued behind it on the
 * same connection find them.  Redis can still lose them (SCRIPT FLUSH, a
 * replica promoted): NOSCRIPT is answered by EVAL of the text, which runs
 * the script and caches it again, once per call.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_sha1.h>

#include "ngx_http_seckill_script.h"
#include "seckill_scripts.h"


/* every script takes the same keys and arguments; ARGV[3] may be unused */
#define NGX_HTTP_SECKILL_SCRIPT_FMT                                           \
    "%s %s 3 " SECKILL_KEY_COURSE " " SECKILL_KEY_USER " "                    \
    SECKILL_KEY_PENDING " %s %s %s"


typedef struct {
    const char                *name;
    const char                *text;
    u_char                     sha1[2 * 20 + 1];
} ngx_http_seckill_script_t;


static void ngx_http_seckill_script_load(void *data);
static void ngx_http_seckill_script_loaded(redisReply *reply, void *data);
static ngx_int_t ngx_http_seckill_script_send(
    ngx_http_seckill_script_call_t *call, const char *command,
    const char *script);
static void ngx_http_seckill_script_reply(redisReply *reply, void *data);


static ngx_http_seckill_script_t  ngx_http_seckill_scripts[] = {
    { "reserve", SECKILL_SCRIPT_RESERVE, "" },
    { "release", SECKILL_SCRIPT_RELEASE, "" }
};

static ngx_log_t  *ngx_http_seckill_script_log;


ngx_int_t
ngx_http_seckill_script_init(ngx_log_t *log)
{
    u_char                      hash[20];
    ngx_uint_t                  i;
    ngx_sha1_t                  sha1;
    ngx_http_seckill_script_t  *s;

    ngx_http_seckill_script_log = log;

    for (i = 0; i < sizeof(ngx_http_seckill_scripts)
                    / sizeof(ngx_http_seckill_script_t); i++)
    {
        s = &ngx_http_seckill_scripts[i];

        ngx_sha1_init(&sha1);
        ngx_sha1_update(&sha1, s->text, ngx_strlen(s->text));
        ngx_sha1_final(hash, &sha1);

        *ngx_hex_dump(s->sha1, hash, 20) = '\0';
    }

    return ngx_http_seckill_redis_on_connect(ngx_http_seckill_script_load,
                                             NULL);
}


ngx_int_t
ngx_http_seckill_script_run(ngx_http_seckill_script_call_t *call)
{
    call->retried = 0;

    return ngx_http_seckill_script_send(call, "EVALSHA",
                      (char *) ngx_http_seckill_scripts[call->script].sha1);
}


static void
ngx_http_seckill_script_load(void *data)
{
    ngx_uint_t                  i;
    ngx_http_seckill_script_t  *s;

    /* a failure means the connection is gone; the next one loads again */

    for (i = 0; i < sizeof(ngx_http_seckill_scripts)
                    / sizeof(ngx_http_seckill_script_t); i++)
    {
        s = &ngx_http_seckill_scripts[i];

        (void) ngx_http_seckill_redis_command(ngx_http_seckill_script_loaded,
                                              s, "SCRIPT LOAD %s", s->text);
    }
}


static void
ngx_http_seckill_script_loaded(redisReply *reply, void *data)
{
    ngx_http_seckill_script_t *s = data;

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_STRING
        && reply->len == 40
        && ngx_strncmp(reply->str, s->sha1, 40) == 0)
    {
        return;
    }

    /* EVALSHA would fail with NOSCRIPT and fall back to EVAL each time */

    ngx_log_error(NGX_LOG_ALERT, ngx_http_seckill_script_log, 0,
                  "redis answered \"%*s\" to SCRIPT LOAD of the %s script, "
                  "expected its SHA1 %s",
                  reply->type == REDIS_REPLY_STRING
                  || reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                  reply->str, s->name, s->sha1);
}


static ngx_int_t
ngx_http_seckill_script_send(ngx_http_seckill_script_call_t *call,
    const char *command, const char *script)
{
    return ngx_http_seckill_redis_command(ngx_http_seckill_script_reply,
                                          call, NGX_HTTP_SECKILL_SCRIPT_FMT,
                                          command, script,
                                          call->course,
                                          call->course, call->user,
                                          call->course,
                                          call->user, call->order,
                                          call->now[0] ? call->now
                                                       : (u_char *) "0");
}


static void
ngx_http_seckill_script_reply(redisReply *reply, void *data)
{
    ngx_http_seckill_script_call_t *call = data;

    ngx_http_seckill_script_t  *s;

    if (reply
        && reply->type == REDIS_REPLY_ERROR
        && !call->retried
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0)
    {
        s = &ngx_http_seckill_scripts[call->script];

        ngx_log_error(NGX_LOG_WARN, ngx_http_seckill_script_log, 0,
                      "redis has lost the %s script, loading it again",
                      s->name);

        call->retried = 1;

        if (ngx_http_seckill_script_send(call, "EVAL", s->text) == NGX_OK) {
            return;
        }

        /* the script did not run: the caller sees the NOSCRIPT error */
    }

    call->handler(reply, call->data);
}

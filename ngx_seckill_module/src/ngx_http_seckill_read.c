
/*
 * The suspended GET of ngx_http_seckill_read.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_seckill_module.h"
#include "ngx_http_seckill_json.h"
#include "ngx_http_seckill_read.h"


static void ngx_http_seckill_read_timeout(ngx_event_t *ev);
static void ngx_http_seckill_read_cleanup(void *data);


void *
ngx_http_seckill_read_create(ngx_http_request_t *r, size_t size)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_seckill_read_t  *rd;

    /* allocated first: nothing can fail once a command is queued */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    rd = ngx_calloc(size, r->connection->log);
    if (rd == NULL) {
        return NULL;
    }

    rd->cleanup = cln;

    return rd;
}


ngx_int_t
ngx_http_seckill_read_wait(ngx_http_request_t *r, ngx_http_seckill_read_t *rd,
    ngx_int_t queued)
{
    ngx_http_seckill_main_conf_t  *smcf;

    if (queued != NGX_OK) {
        /* no reply will come: nothing else has seen the context */

        ngx_free(rd);

        return ngx_http_seckill_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           NGX_HTTP_SECKILL_REASON_UNAVAILABLE,
                                           "redis is not connected");
    }

    smcf = ngx_http_get_module_main_conf(r, ngx_http_seckill_module);

    rd->request = r;
    rd->pending = 1;

    rd->cleanup->handler = ngx_http_seckill_read_cleanup;
    rd->cleanup->data = rd;

    rd->timer.handler = ngx_http_seckill_read_timeout;
    rd->timer.data = rd;
    rd->timer.log = r->connection->log;

    ngx_add_timer(&rd->timer, smcf->redis.timeout);

    r->main->count++;

    return NGX_DONE;
}


ngx_http_request_t *
ngx_http_seckill_read_reply(ngx_http_seckill_read_t *rd)
{
    rd->pending--;

    if (rd->request == NULL) {
        if (rd->pending == 0) {
            ngx_free(rd);
        }

        return NULL;
    }

    if (rd->done) {
        return NULL;
    }

    return rd->request;
}


void
ngx_http_seckill_read_finish(ngx_http_seckill_read_t *rd, ngx_int_t rc)
{
    rd->done = 1;

    /* the request may end here, and its pool cleanup free rd */

    ngx_http_seckill_finalize(rd->request, &rd->timer, rc);
}


void
ngx_http_seckill_read_fail(ngx_http_seckill_read_t *rd, const char *text)
{
    ngx_http_seckill_read_finish(rd,
        ngx_http_seckill_json_error(rd->request, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    NGX_HTTP_SECKILL_REASON_UNAVAILABLE,
                                    text));
}


static void
ngx_http_seckill_read_timeout(ngx_event_t *ev)
{
    ngx_http_seckill_read_t *rd = ev->data;

    ngx_http_request_t            *r;
    ngx_http_seckill_main_conf_t  *smcf;

    r = rd->request;
    smcf = ngx_http_get_module_main_conf(r, ngx_http_seckill_module);

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "redis \"%V\" did not answer within %M ms",
                  &smcf->redis.name, smcf->redis.timeout);

    ngx_http_seckill_read_fail(rd, "redis timed out");
}


static void
ngx_http_seckill_read_cleanup(void *data)
{
    ngx_http_seckill_read_t *rd = data;

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (rd->pending) {
        rd->request = NULL;
        return;
    }

    ngx_free(rd);
}


/*
 * The module's variables.
 *
 * $seckill_limit_user: the key of the per-user limit_req in front of a
 * purchase.  It is the user id of /api/seckill/{course_id}/{user_id} in a
 * seckill_purchase location, and empty (a request limit_req does not count)
 * when the purchase cannot reach Redis anyway: malformed ids, answered 400,
 * or a course this node already knows is sold out, answered 410 from shared
 * memory.  A flood of buyers at a sold-out course then costs no walk of
 * the limit zone's tree under its lock, the largest cost of that answer.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_seckill_module.h"
#include "ngx_http_seckill_soldout.h"
#include "ngx_http_seckill_stats.h"


static ngx_int_t ngx_http_seckill_limit_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_seckill_variables[] = {

    { ngx_string("seckill_limit_user"), NULL,
      ngx_http_seckill_limit_user_variable, 0, 0, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_seckill_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_seckill_variables; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_seckill_limit_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                        *p;
    const char                    *reason;
    ngx_http_seckill_ids_t         ids;
    ngx_http_seckill_loc_conf_t   *slcf;
    ngx_http_seckill_main_conf_t  *smcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_seckill_module);
    smcf = ngx_http_get_module_main_conf(r, ngx_http_seckill_module);

    if (slcf->endpoint != NGX_HTTP_SECKILL_ENDPOINT_PURCHASE
        || ngx_http_seckill_parse_ids(r, &ids, &reason) != NGX_OK
        || (smcf->sold_out_zone
            && ngx_http_seckill_sold_out_test(smcf->sold_out_zone,
                                              ids.course)))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%L", ids.user) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}

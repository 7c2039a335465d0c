
/*
 * The sold-out cache: a fixed table in shared memory, one slot per course
 * (by a hash of its id; two courses in one slot just take turns), holding
 * the course id and the time until which it counts as sold out.
 *
 * The tradeoff: Redis stays the only judge of a sale, the cache only
 * answers "sold out" for a while after Redis last said so.  A seat that
 * comes back (a reservation released because its Kafka delivery failed,
 * `seckill load` or `reset`) is missed for at most seckill_sold_out_ttl
 * by the workers that did not release it; the releasing worker clears the
 * course at once.  A user who holds an order for a sold-out course is told
 * 410 rather than 409 meanwhile (GET /api/orders tells the truth).  In
 * exchange a sold-out course costs the crowd no Redis round trip at all.
 *
 * No lock: a slot is written under a sequence number made odd by the
 * writer's compare-and-set (a worker that finds it odd does not write: it
 * is only a cache), and a reader that sees the number odd or changed
 * counts it as a miss and asks Redis.  A worker killed in the middle of a
 * write leaves its slot disabled, nothing worse.  Times are
 * ngx_current_msec, a monotonic clock shared by the processes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_seckill_module.h"
#include "ngx_http_seckill_soldout.h"


#define NGX_HTTP_SECKILL_SOLD_OUT_BITS   10
#define NGX_HTTP_SECKILL_SOLD_OUT_SLOTS  (1 << NGX_HTTP_SECKILL_SOLD_OUT_BITS)


typedef struct {
    ngx_atomic_t                 seq;       /* odd while written */
    ngx_atomic_t                 course;
    ngx_atomic_t                 until;     /* ngx_current_msec */
} ngx_http_seckill_sold_out_slot_t;


static ngx_int_t ngx_http_seckill_sold_out_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_http_seckill_sold_out_slot_t *ngx_http_seckill_sold_out_slot(
    ngx_shm_zone_t *zone, int64_t course);
static ngx_int_t ngx_http_seckill_sold_out_read(
    ngx_http_seckill_sold_out_slot_t *slot, ngx_atomic_uint_t *course,
    ngx_atomic_uint_t *until);
static int ngx_libc_cdecl ngx_http_seckill_sold_out_cmp(const void *one,
    const void *two);
static void ngx_http_seckill_sold_out_write(
    ngx_http_seckill_sold_out_slot_t *slot, int64_t course,
    ngx_msec_t until, ngx_uint_t only_same);


ngx_shm_zone_t *
ngx_http_seckill_sold_out_zone(ngx_conf_t *cf)
{
    size_t           size;
    ngx_shm_zone_t  *zone;

    static ngx_str_t  name = ngx_string("seckill_sold_out");

    /* the slab allocator's own pages and headers fit in eight pages */

    size = ngx_align(NGX_HTTP_SECKILL_SOLD_OUT_SLOTS
                     * sizeof(ngx_http_seckill_sold_out_slot_t),
                     ngx_pagesize)
           + 8 * ngx_pagesize;

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_seckill_module);
    if (zone == NULL) {
        return NULL;
    }

    zone->init = ngx_http_seckill_sold_out_init_zone;

    return zone;
}


ngx_uint_t
ngx_http_seckill_sold_out_test(ngx_shm_zone_t *zone, int64_t course)
{
    ngx_atomic_uint_t  id, until;

    if (ngx_http_seckill_sold_out_read(
                               ngx_http_seckill_sold_out_slot(zone, course),
                               &id, &until)
        != NGX_OK
        || id != (ngx_atomic_uint_t) course)
    {
        return 0;
    }

    return (ngx_msec_int_t) (until - ngx_current_msec) > 0;
}


void
ngx_http_seckill_sold_out_set(ngx_shm_zone_t *zone, int64_t course,
    ngx_msec_t ttl)
{
    ngx_http_seckill_sold_out_write(
        ngx_http_seckill_sold_out_slot(zone, course), course,
        ngx_current_msec + ttl, 0);
}


void
ngx_http_seckill_sold_out_clear(ngx_shm_zone_t *zone, int64_t course)
{
    ngx_http_seckill_sold_out_write(
        ngx_http_seckill_sold_out_slot(zone, course), course,
        ngx_current_msec, 1);
}


ngx_array_t *
ngx_http_seckill_sold_out_list(ngx_shm_zone_t *zone, ngx_pool_t *pool)
{
    int64_t                           *course;
    ngx_uint_t                         i;
    ngx_array_t                       *courses;
    ngx_atomic_uint_t                  id, until;
    ngx_http_seckill_sold_out_slot_t  *slots;

    courses = ngx_array_create(pool, 16, sizeof(int64_t));
    if (courses == NULL) {
        return NULL;
    }

    slots = zone->data;

    for (i = 0; i < NGX_HTTP_SECKILL_SOLD_OUT_SLOTS; i++) {

        if (ngx_http_seckill_sold_out_read(&slots[i], &id, &until) != NGX_OK
            || id == 0
            || (ngx_msec_int_t) (until - ngx_current_msec) <= 0)
        {
            continue;
        }

        course = ngx_array_push(courses);
        if (course == NULL) {
            return NULL;
        }

        *course = (int64_t) id;
    }

    ngx_qsort(courses->elts, courses->nelts, sizeof(int64_t),
              ngx_http_seckill_sold_out_cmp);

    return courses;
}


static ngx_int_t
ngx_http_seckill_sold_out_init_zone(ngx_shm_zone_t *zone, void *data)
{
    size_t  size;

    size = NGX_HTTP_SECKILL_SOLD_OUT_SLOTS
           * sizeof(ngx_http_seckill_sold_out_slot_t);

    /* a reload keeps what the old workers learned */

    return ngx_http_seckill_zone_init(zone, data, size);
}


static ngx_http_seckill_sold_out_slot_t *
ngx_http_seckill_sold_out_slot(ngx_shm_zone_t *zone, int64_t course)
{
    uint64_t                           h;
    ngx_http_seckill_sold_out_slot_t  *slots;

    slots = zone->data;

    /* Fibonacci hashing: consecutive ids land in different slots */

    h = (uint64_t) course * 0x9e3779b97f4a7c15ULL;

    return &slots[h >> (64 - NGX_HTTP_SECKILL_SOLD_OUT_BITS)];
}


/* NGX_DECLINED: the slot is being written, or was meanwhile */

static ngx_int_t
ngx_http_seckill_sold_out_read(ngx_http_seckill_sold_out_slot_t *slot,
    ngx_atomic_uint_t *course, ngx_atomic_uint_t *until)
{
    ngx_atomic_uint_t  seq;

    seq = slot->seq;
    ngx_memory_barrier();

    if (seq & 1) {
        return NGX_DECLINED;
    }

    *course = slot->course;
    *until = slot->until;

    ngx_memory_barrier();

    return slot->seq == seq ? NGX_OK : NGX_DECLINED;
}


static int ngx_libc_cdecl
ngx_http_seckill_sold_out_cmp(const void *one, const void *two)
{
    const int64_t  *a = one;
    const int64_t  *b = two;

    return (*a > *b) - (*a < *b);
}


static void
ngx_http_seckill_sold_out_write(ngx_http_seckill_sold_out_slot_t *slot,
    int64_t course, ngx_msec_t until, ngx_uint_t only_same)
{
    ngx_atomic_uint_t  seq;

    seq = slot->seq;

    if (seq & 1) {
        return;
    }

    if (only_same && slot->course != (ngx_atomic_uint_t) course) {
        return;
    }

    if (!ngx_atomic_cmp_set(&slot->seq, seq, seq + 1)) {
        return;
    }

    slot->course = course;
    slot->until = until;

    ngx_memory_barrier();

    slot->seq = seq + 2;
}

/*
 * The Redis side of Course Seckill's protocol, shared by the nginx module,
 * the consumer daemon and the CLI: key names and the Lua scripts that move
 * an order's status key. Each script touches the keys of one course only,
 * all carrying the hash tag {c<id>}, so a course lives in one Redis Cluster
 * slot and every transition is atomic.
 *
 * Status of seckill:{c<id>}:u:<user> (field `status`):
 *
 *   pending --claim--> claimed --confirm--> success
 *      \
 *       `--release--> failed     (delivery failed or timed out; orphan swept)
 *
 * The status key is the arbiter between the producer side (which releases a
 * reservation whose Kafka delivery failed) and the consumer (which claims it
 * before inserting the order): whichever transition runs first wins and the
 * other side obeys the script's answer.
 */

#ifndef SECKILL_SCRIPTS_H
#define SECKILL_SCRIPTS_H

/* printf formats of the keys; the arguments are decimal id strings. */
#define SECKILL_KEY_CATALOGUE   "seckill:courses"
#define SECKILL_KEY_COURSE      "seckill:{c%s}"
#define SECKILL_KEY_USER        "seckill:{c%s}:u:%s"
#define SECKILL_KEY_PENDING     "seckill:{c%s}:pending"
#define SECKILL_KEY_ORDER_GEN   "seckill:order_gen"

/* An order id is gen * 2^SECKILL_ORDER_SEQ_BITS + seq, where gen comes from
 * INCR SECKILL_KEY_ORDER_GEN: unique across workers, restarts and nodes. */
#define SECKILL_ORDER_SEQ_BITS  20

/*
 * reserve and release take the keys of one order:
 *   KEYS[1] course hash, KEYS[2] the user's status key, KEYS[3] pending zset
 * and ARGV[1] user id, ARGV[2] order id.
 *
 * claim and confirm take n orders of one course at once, as one call costs
 * Redis far more than one order's work (parsing, script lookup, the AOF's
 * MULTI/EXEC):
 *   KEYS[1] course hash, KEYS[2] pending zset, KEYS[2+i] the status key of
 *   order i; ARGV[2i-1] the user id and ARGV[2i] the order id of order i
 *   (i = 1..n).
 * They answer an array of n verdicts, in order: the orders are taken one
 * after another, each answered as a call of its own would be. Redis runs
 * nothing else meanwhile: the caller keeps n small.
 */

/*
 * reserve: ARGV[3] is the caller's clock in Unix ms.
 * Answers {verdict, value}: {"ok", order_id}, {"duplicate", order_id},
 * {"not_started", starts_at}, {"ended", ends_at}, {"sold_out", "0"},
 * {"unknown", "0"}. A user whose last attempt failed may try again.
 */
#define SECKILL_SCRIPT_RESERVE                                                \
    "local st = redis.call('HMGET', KEYS[2], 'order_id', 'status')\n"         \
    "if st[2] == 'pending' or st[2] == 'claimed' or st[2] == 'success' then\n"\
    "  return {'duplicate', st[1]}\n"                                         \
    "end\n"                                                                   \
    "local c = redis.call('HMGET', KEYS[1], 'remaining', 'starts_at',"        \
    " 'ends_at')\n"                                                           \
    "if not c[1] then return {'unknown', '0'} end\n"                          \
    "local now = tonumber(ARGV[3])\n"                                         \
    "if now < tonumber(c[2]) then return {'not_started', c[2]} end\n"         \
    "if now >= tonumber(c[3]) then return {'ended', c[3]} end\n"              \
    "if tonumber(c[1]) <= 0 then return {'sold_out', '0'} end\n"              \
    "redis.call('HINCRBY', KEYS[1], 'remaining', -1)\n"                       \
    "redis.call('HSET', KEYS[2], 'order_id', ARGV[2], 'status', 'pending',"   \
    " 'ts', ARGV[3])\n"                                                       \
    "redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])\n"                         \
    "return {'ok', ARGV[2]}\n"

/*
 * release: give the seat back if the reservation is still pending.
 * Answers "released"; "confirmed" when the consumer claimed it first (the
 * order will be persisted: the client is told 200); "gone" when the status
 * key holds another order or none (reset, or released already).
 */
#define SECKILL_SCRIPT_RELEASE                                                \
    "local st = redis.call('HMGET', KEYS[2], 'order_id', 'status')\n"         \
    "if st[1] ~= ARGV[2] then return 'gone' end\n"                            \
    "if st[2] == 'claimed' or st[2] == 'success' then return 'confirmed' end\n"\
    "if st[2] ~= 'pending' then return 'gone' end\n"                          \
    "redis.call('HSET', KEYS[2], 'status', 'failed')\n"                       \
    "redis.call('ZREM', KEYS[3], ARGV[1])\n"                                  \
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"                            \
    "  redis.call('HINCRBY', KEYS[1], 'remaining', 1)\n"                      \
    "end\n"                                                                   \
    "return 'released'\n"

/*
 * claim: the consumer takes the order before inserting it. Answers "claimed"
 * (insert it; also on redelivery, where the UNIQUE keys make the insert a
 * no-op) or "dropped" (released by the producer side: never insert).
 * The user stays in the pending zset until confirm, so `seckill load` still
 * counts the seat as taken while the row is not committed.
 */
#define SECKILL_SCRIPT_CLAIM                                                  \
    "local out = {}\n"                                                        \
    "for i = 1, #KEYS - 2 do\n"                                               \
    "  local key, verdict = KEYS[2 + i], 'dropped'\n"                         \
    "  local st = redis.call('HMGET', key, 'order_id', 'status')\n"           \
    "  if st[1] == ARGV[2 * i] then\n"                                        \
    "    if st[2] == 'pending' then\n"                                        \
    "      redis.call('HSET', key, 'status', 'claimed')\n"                    \
    "      verdict = 'claimed'\n"                                             \
    "    elseif st[2] == 'claimed' or st[2] == 'success' then\n"              \
    "      verdict = 'claimed'\n"                                             \
    "    end\n"                                                               \
    "  end\n"                                                                 \
    "  out[i] = verdict\n"                                                    \
    "end\n"                                                                   \
    "return out\n"

/*
 * confirm: after the database commit. Answers "success" or "gone" (the key
 * was reset meanwhile) per order; the confirmed users leave the pending zset
 * in one ZREM.
 */
#define SECKILL_SCRIPT_CONFIRM                                                \
    "local out, users = {}, {}\n"                                             \
    "for i = 1, #KEYS - 2 do\n"                                               \
    "  local key = KEYS[2 + i]\n"                                             \
    "  local st = redis.call('HMGET', key, 'order_id', 'status')\n"           \
    "  if st[1] == ARGV[2 * i]\n"                                             \
    "      and (st[2] == 'claimed' or st[2] == 'success') then\n"             \
    "    redis.call('HSET', key, 'status', 'success')\n"                      \
    "    users[#users + 1] = ARGV[2 * i - 1]\n"                               \
    "    out[i] = 'success'\n"                                                \
    "  else\n"                                                                \
    "    out[i] = 'gone'\n"                                                   \
    "  end\n"                                                                 \
    "end\n"                                                                   \
    "if #users > 0 then redis.call('ZREM', KEYS[2], unpack(users)) end\n"     \
    "return out\n"

#endif /* SECKILL_SCRIPTS_H */

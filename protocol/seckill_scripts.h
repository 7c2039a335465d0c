/*
 * The Lua scripts of Course Seckill, shared by the nginx module, the
 * consumer daemon and the CLI.  Each touches the keys of one course only
 * (seckill_keys.h: all carry the hash tag {c<id>}), so a course lives in one
 * Redis Cluster slot and every transition is atomic.
 *
 * The status key seckill:{c<id>}:u:<uid> (field `status`) is the arbiter:
 *
 *   pending --claim--> claimed --confirm--> success
 *      \
 *       `--release--> failed     (delivery failed or timed out; orphan swept)
 *
 * between the producer side (which releases a reservation whose Kafka
 * delivery failed) and the consumer (which claims it before inserting the
 * order): whichever transition runs first wins and the other side obeys the
 * script's answer.
 *
 * The four arbiter scripts take n orders of ONE course per call: one call
 * costs Redis far more than one order's work (parsing, script lookup, the
 * MULTI/EXEC around its effects in the AOF), so the callers batch what they
 * have of a course (the module: the purchases of one turn of a worker's
 * event loop; the consumer: a poll's events).  They share one layout:
 *
 *   KEYS[1]        the course hash          seckill:{c<id>}
 *   KEYS[2]        the pending hash         seckill:{c<id>}:pending
 *   KEYS[2 + i]    order i's status key     seckill:{c<id>}:u:<uid_i>
 *   ARGV[2i - 1]   order i's user id
 *   ARGV[2i]       order i's order id                     (i = 1 .. n)
 *   ARGV[2n + 1]   reserve only: the caller's clock, Unix ms
 *
 * and answer an array of n verdicts in order.  The orders are taken one
 * after another, each answered exactly as a call of its own would be: two
 * orders of one user in one call are a purchase and a duplicate, the last
 * seat goes to the first order that asks.  Redis runs nothing else
 * meanwhile: callers keep n small (the module: seckill_redis_batch, 64).
 */

#ifndef SECKILL_SCRIPTS_H
#define SECKILL_SCRIPTS_H

/*
 * reserve: each verdict is a pair {verdict, value}: {"ok", order_id},
 * {"duplicate", the order_id held}, {"not_started", starts_at},
 * {"ended", ends_at}, {"sold_out", "0"}, {"unknown", "0"}.  A user whose
 * last attempt failed may try again.
 *
 * What an order costs Redis alone is one HGET and one HSET of its status
 * key: the course hash is read once per call and written once (HINCRBY by
 * the seats taken), the pending hash takes the call's users in one HSET,
 * and the order id held is read only for a duplicate.
 */
#define SECKILL_SCRIPT_RESERVE                                                \
    "local n = #KEYS - 2\n"                                                   \
    "local now = ARGV[2 * n + 1]\n"                                           \
    "local c = redis.call('HMGET', KEYS[1], 'remaining', 'starts_at',"        \
    " 'ends_at')\n"                                                           \
    "local closed\n"                                                          \
    "if not c[1] then closed = {'unknown', '0'}\n"                            \
    "elseif tonumber(now) < tonumber(c[2]) then"                              \
    " closed = {'not_started', c[2]}\n"                                       \
    "elseif tonumber(now) >= tonumber(c[3]) then closed = {'ended', c[3]}\n"  \
    "end\n"                                                                   \
    "local left = closed and 0 or tonumber(c[1])\n"                           \
    "local out, pend, taken = {}, {}, 0\n"                                    \
    "for i = 1, n do\n"                                                       \
    "  local key, order = KEYS[2 + i], ARGV[2 * i]\n"                         \
    "  local st = redis.call('HGET', key, 'status')\n"                        \
    "  if st == 'pending' or st == 'claimed' or st == 'success' then\n"       \
    "    out[i] = {'duplicate', redis.call('HGET', key, 'order_id')}\n"       \
    "  elseif closed then\n"                                                  \
    "    out[i] = closed\n"                                                   \
    "  elseif left <= 0 then\n"                                               \
    "    out[i] = {'sold_out', '0'}\n"                                        \
    "  else\n"                                                                \
    "    left, taken = left - 1, taken + 1\n"                                 \
    "    redis.call('HSET', key, 'order_id', order, 'status', 'pending',"     \
    " 'ts', now)\n"                                                           \
    "    pend[2 * taken - 1], pend[2 * taken] = ARGV[2 * i - 1], now\n"        \
    "    out[i] = {'ok', order}\n"                                            \
    "  end\n"                                                                 \
    "end\n"                                                                   \
    "if taken > 0 then\n"                                                     \
    "  redis.call('HINCRBY', KEYS[1], 'remaining', -taken)\n"                 \
    "  redis.call('HSET', KEYS[2], unpack(pend))\n"                           \
    "end\n"                                                                   \
    "return out\n"

/*
 * release: give the seat back if the reservation is still pending.
 * Answers "released"; "confirmed" when the consumer claimed it first (the
 * order will be persisted: the client is told 200); "gone" when the status
 * key holds another order or none (reset, or released already).
 */
#define SECKILL_SCRIPT_RELEASE                                                \
    "local out, users = {}, {}\n"                                             \
    "for i = 1, #KEYS - 2 do\n"                                               \
    "  local key, verdict = KEYS[2 + i], 'gone'\n"                            \
    "  local st = redis.call('HMGET', key, 'order_id', 'status')\n"           \
    "  if st[1] == ARGV[2 * i] then\n"                                        \
    "    if st[2] == 'claimed' or st[2] == 'success' then\n"                  \
    "      verdict = 'confirmed'\n"                                           \
    "    elseif st[2] == 'pending' then\n"                                    \
    "      redis.call('HSET', key, 'status', 'failed')\n"                     \
    "      users[#users + 1] = ARGV[2 * i - 1]\n"                             \
    "      verdict = 'released'\n"                                            \
    "    end\n"                                                               \
    "  end\n"                                                                 \
    "  out[i] = verdict\n"                                                    \
    "end\n"                                                                   \
    "if #users > 0 then\n"                                                    \
    "  redis.call('HDEL', KEYS[2], unpack(users))\n"                          \
    "  if redis.call('EXISTS', KEYS[1]) == 1 then\n"                          \
    "    redis.call('HINCRBY', KEYS[1], 'remaining', #users)\n"               \
    "  end\n"                                                                 \
    "end\n"                                                                   \
    "return out\n"

/*
 * claim: the consumer takes the order before inserting it. Answers "claimed"
 * (insert it; also on redelivery, where the UNIQUE keys make the insert a
 * no-op) or "dropped" (released by the producer side: never insert).
 * The user stays in the pending hash until confirm, so `seckill load` still
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
 * was reset meanwhile) per order; the confirmed users leave the pending hash
 * in one HDEL.
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
    "if #users > 0 then redis.call('HDEL', KEYS[2], unpack(users)) end\n"     \
    "return out\n"

/*
 * The CLI's course scripts write a course hash as a whole, so that the
 * arbiter scripts never read one half written.  Each takes the keys of one
 * course; the CLI sends them with EVAL (one call per course and command).
 */

/*
 * load course (`seckill load` and the commands that put one course on sale):
 * rewrites the course hash in one atomic step, so that no reservation slips
 * between counting the pending ones and setting remaining.  DEL first: the
 * hash holds exactly the fields of the contract.
 *
 *   KEYS[1]        the course hash          seckill:{c<id>}
 *   KEYS[2]        the pending hash         seckill:{c<id>}:pending
 *   ARGV[1 .. 5]   name, total, the orders persisted (MariaDB), starts_at,
 *                  ends_at
 *   ARGV[6 ..]     the pending hash's users, read before the orders were
 *                  counted: one that left the hash since was persisted
 *
 * remaining = total - orders - pending - gone, never below 0 (why the
 * snapshot: consumer/lib/stock.h).  Answers {pending, gone, remaining}: the
 * reservations pending now, the snapshot's members no longer pending, the
 * seats written as remaining (integers).
 */
#define SECKILL_SCRIPT_LOAD_COURSE                                            \
    "local pending = redis.call('HLEN', KEYS[2])\n"                           \
    "local gone = 0\n"                                                        \
    "for i = 6, #ARGV do\n"                                                   \
    "  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then"                  \
    " gone = gone + 1 end\n"                                                  \
    "end\n"                                                                   \
    "local remaining = tonumber(ARGV[2]) - tonumber(ARGV[3])"                 \
    " - pending - gone\n"                                                     \
    "if remaining < 0 then remaining = 0 end\n"                               \
    "redis.call('DEL', KEYS[1])\n"                                            \
    "redis.call('HSET', KEYS[1], 'name', ARGV[1], 'total', ARGV[2],\n"        \
    "  'remaining', remaining, 'starts_at', ARGV[4], 'ends_at', ARGV[5])\n"   \
    "return {pending, gone, remaining}\n"

/*
 * set window (`seckill course set-window`): both ends of the sale window at
 * once, and only on a whole hash: a course not loaded stays unknown rather
 * than half there.
 *
 *   KEYS[1]        the course hash
 *   ARGV[1]        starts_at (Unix ms, included)
 *   ARGV[2]        ends_at (Unix ms, excluded)
 *
 * Answers 1, or 0 when there is no course hash (nothing written).
 */
#define SECKILL_SCRIPT_SET_WINDOW                                             \
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"               \
    "redis.call('HSET', KEYS[1], 'starts_at', ARGV[1], 'ends_at', ARGV[2])\n" \
    "return 1\n"

/*
 * add seats (`seckill fill`): more seats for a course already on sale, its
 * window stretched to cover [starts_at, ends_at).  The caller makes sure the
 * hash exists (else the script fails half done, after the HINCRBYs).
 *
 *   KEYS[1]        the course hash
 *   ARGV[1]        the seats to add to total and remaining
 *   ARGV[2]        starts_at, ARGV[3] ends_at (Unix ms)
 *
 * Answers 1.
 */
#define SECKILL_SCRIPT_ADD_SEATS                                              \
    "redis.call('HINCRBY', KEYS[1], 'total', ARGV[1])\n"                      \
    "redis.call('HINCRBY', KEYS[1], 'remaining', ARGV[1])\n"                  \
    "if tonumber(redis.call('HGET', KEYS[1], 'starts_at'))"                   \
    " > tonumber(ARGV[2]) then\n"                                             \
    "  redis.call('HSET', KEYS[1], 'starts_at', ARGV[2])\n"                   \
    "end\n"                                                                   \
    "if tonumber(redis.call('HGET', KEYS[1], 'ends_at'))"                     \
    " < tonumber(ARGV[3]) then\n"                                             \
    "  redis.call('HSET', KEYS[1], 'ends_at', ARGV[3])\n"                     \
    "end\n"                                                                   \
    "return 1\n"

#endif /* SECKILL_SCRIPTS_H */

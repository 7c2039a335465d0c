/* Writing order events, and parsing and checking them with yajl's tree API
 * (event.h). */
#include "event.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "ids.h"

enum field { F_ORDER, F_COURSE, F_USER, F_TS, NFIELDS };

static const char *const field_names[NFIELDS] = {
    "order_id", "course_id", "user_id", "ts"
};

/* yajl's message spans lines (it draws the input with an arrow): keep the
 * first, which says what went wrong. */
static void first_line(char *s)
{
    s[strcspn(s, "\r\n")] = '\0';
    for (size_t n = strlen(s); n > 0 && s[n - 1] == ' '; n--)
        s[n - 1] = '\0';
}

/* A number that is all digits but did not fit a long long is an integer
 * out of range, not a fraction. */
static int is_whole(const char *text)
{
    if (*text == '-')
        text++;
    return *text != '\0' && strspn(text, "0123456789") == strlen(text);
}

static int check_field(enum field f, yajl_val v, uint64_t *out, char *why)
{
    const char *name = field_names[f];
    int64_t max = f == F_TS ? INT64_MAX : (int64_t)SECKILL_ID_MAX;
    int64_t min = f == F_TS ? 0 : 1;

    if (!YAJL_IS_NUMBER(v)) {
        snprintf(why, EVENT_REASON_MAX, "%s is not a number", name);
        return -1;
    }
    if (!YAJL_IS_INTEGER(v)) {
        snprintf(why, EVENT_REASON_MAX, is_whole(v->u.number.r)
                 ? "%s = %.40s is out of range" : "%s = %.40s is not an integer",
                 name, v->u.number.r);
        return -1;
    }
    if (v->u.number.i < min || v->u.number.i > max) {
        snprintf(why, EVENT_REASON_MAX, "%s = %lld is out of range (%" PRId64 "..%" PRId64 ")",
                 name, v->u.number.i, min, max);
        return -1;
    }
    *out = (uint64_t)v->u.number.i;
    return 0;
}

static int check_object(yajl_val root, struct order_event *ev, char *why)
{
    uint64_t got[NFIELDS];
    int seen[NFIELDS] = { 0 };

    if (!YAJL_IS_OBJECT(root)) {
        snprintf(why, EVENT_REASON_MAX, "not a JSON object");
        return -1;
    }
    for (size_t i = 0; i < root->u.object.len; i++) {
        for (int f = 0; f < NFIELDS; f++) {
            if (strcmp(root->u.object.keys[i], field_names[f]) != 0)
                continue;
            /* yajl keeps both copies of a repeated field: which one a reader
             * sees would depend on the reader. */
            if (seen[f]) {
                snprintf(why, EVENT_REASON_MAX, "field %s given twice", field_names[f]);
                return -1;
            }
            seen[f] = 1;
            if (check_field((enum field)f, root->u.object.values[i], &got[f], why) != 0)
                return -1;
        }
    }
    for (int f = 0; f < NFIELDS; f++) {
        if (!seen[f]) {
            snprintf(why, EVENT_REASON_MAX, "missing field %s", field_names[f]);
            return -1;
        }
    }
    ev->order_id = got[F_ORDER];
    ev->course_id = got[F_COURSE];
    ev->user_id = got[F_USER];
    ev->ts = (int64_t)got[F_TS];
    return 0;
}

void event_format(const struct order_event *ev, struct event_message *m)
{
    m->key_len = (size_t)snprintf(m->key, sizeof(m->key), "%" PRIu64, ev->course_id);
    m->value_len = (size_t)snprintf(m->value, sizeof(m->value),
                                    "{\"order_id\":%" PRIu64 ",\"course_id\":%" PRIu64
                                    ",\"user_id\":%" PRIu64 ",\"ts\":%" PRId64 "}",
                                    ev->order_id, ev->course_id, ev->user_id, ev->ts);
}

int event_parse(const void *key, size_t key_len, const void *value,
                size_t value_len, struct order_event *ev,
                char why[EVENT_REASON_MAX])
{
    char text[EVENT_VALUE_MAX + 1], yerr[256];
    yajl_val root;
    uint64_t key_id;
    int rc;

    if (value == NULL || value_len == 0) {
        snprintf(why, EVENT_REASON_MAX, "empty value");
        return -1;
    }
    if (value_len > EVENT_VALUE_MAX) {
        snprintf(why, EVENT_REASON_MAX, "value of %zu bytes, longer than %d",
                 value_len, EVENT_VALUE_MAX);
        return -1;
    }
    if (memchr(value, '\0', value_len) != NULL) {
        snprintf(why, EVENT_REASON_MAX, "NUL byte in the value");
        return -1;
    }
    memcpy(text, value, value_len);
    text[value_len] = '\0';

    yerr[0] = '\0';
    root = yajl_tree_parse(text, yerr, sizeof(yerr));
    if (root == NULL) {
        first_line(yerr);
        snprintf(why, EVENT_REASON_MAX, "invalid JSON: %s", yerr[0] ? yerr : "parse error");
        return -1;
    }
    rc = check_object(root, ev, why);
    yajl_tree_free(root);
    if (rc != 0)
        return -1;

    if (key == NULL || key_len == 0) {
        snprintf(why, EVENT_REASON_MAX, "no key (want course_id %" PRIu64 ")", ev->course_id);
        return -1;
    }
    if (parse_id(key, key_len, &key_id) != 0 || key_id != ev->course_id) {
        char shown[25];
        size_t n = key_len < sizeof(shown) - 1 ? key_len : sizeof(shown) - 1;

        /* The reason goes into a log line and a Kafka header. */
        for (size_t i = 0; i < n; i++) {
            char c = ((const char *)key)[i];

            shown[i] = c >= 0x20 && c < 0x7f && c != '\'' ? c : '?';
        }
        shown[n] = '\0';
        snprintf(why, EVENT_REASON_MAX, "key '%s%s' does not match course_id %" PRIu64,
                 shown, key_len > n ? "..." : "", ev->course_id);
        return -1;
    }
    return 0;
}

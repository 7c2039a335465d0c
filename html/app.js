// Course Seckill's page: the course list with one state per card, a Buy
// button that opens on the server's clock, and the student's orders followed
// until they are final.
//
// Time. Every /api/courses answer carries the server's `now`. The round trip
// with the smallest delay among the last few gives the offset between the
// server's clock and this device's monotonic clock (performance.now()), so a
// wrong or jumping device clock changes nothing. The server stamped `now`
// somewhere inside that round trip: the estimate can be off by half of it,
// so a card opens at the course's start plus that half (and 1 ms). A
// purchase sent then reaches the server after the start, never before it
// (which would be a 403 not_started and a lost chance). A click made before
// the start is held and sent at that moment, by the same timer that redraws
// the card; the timer is set for the next moment anything on the page
// changes, not on a fixed beat.
"use strict";

const POLL_MS = 1500;           // the course list: one request at a time
const SYNC_FIRST = 3;           // round trips measured back to back at load
const SYNC_KEEP = 8;            // the clock follows the fastest of the last 8
const RETRY_MAX_MS = 8000;      // the longest wait between polls while down
const SLOW_MS = 2000;           // a purchase waiting longer than this says so
const MAX_ID = 9007199254740991;    // 2^53 - 1, the API's largest id

const TEXT = {
    zh: {
        locale: "zh-CN",
        title: "课程秒杀",
        switchTo: "English",
        switchLabel: "Switch to English",
        who: "我是谁",
        userLabel: "学号",
        userHelp: "4 到 16 位数字，例如 2023010203。",
        userWhy: "填写学号后，抢购按钮才会亮起。",
        userReady: (id) => `将以学号 ${id} 抢购。`,
        notDigits: "学号只能包含数字。",
        leadingZero: "学号不以 0 开头。",
        tooShort: "学号至少 4 位。",
        tooLong: "学号最多 16 位。",
        courses: "课程",
        myOrders: "我的订单",
        ordersNoUser: "填写学号后，这里显示你的订单。",
        ordersChecking: "正在查询订单…",
        ordersUnknown: "暂时无法查询订单，稍后自动重试。",
        noOrders: "还没有订单。",
        orderLine: (name, id, st) => `${name} · 订单 ${id} · ${st}`,
        statusWord: { pending: "处理中", success: "已确认", failed: "未完成" },
        clockSynced: (t) => `服务器时间 ${t}`,
        clockUnsynced: "尚未与服务器对时",
        serviceBusy: (n) => `服务繁忙，课程数据可能已过时；${n} 秒后重试…`,
        offline: (n) => `连不上服务器，${n} 秒后重试…`,
        badge: {
            upcoming: "未开始", armed: "已预约", open: "抢购中", buying: "提交中",
            yours: "已抢到", soldout: "已售罄", ended: "已结束",
            unavailable: "暂不可用", refused: "被拒绝",
        },
        seatsLabel: "剩余座位",
        seats: (r, t) => `剩余 ${r} / ${t}`,
        startsAt: (ms) => `开始时间 ${when(ms)}`,
        countdown: (ms) => `距开始 ${duration(ms)}`,
        days: (n) => `${n} 天`,
        endsAt: (ms) => `截止 ${when(ms)}`,
        endedAt: (ms) => `已于 ${when(ms)} 结束`,
        sending: "正在提交…",
        slow: (s) => `服务器还在确认，已等待 ${s} 秒…`,
        yourOrder: (id, st) => `你的订单 ${id} · ${st}`,
        soldOutDetail: "座位已全部售出。",
        busyRetry: (n) => `服务繁忙，${n} 秒后重试…`,
        busyWait: (n) => `服务繁忙，${n} 秒后可以再试。`,
        tooManyWait: (n) => `点得太快了，${n} 秒后可以再试。`,
        buy: "抢购",
        buyAtStart: "开始时抢购",
        armedButton: "已预约",
        cancel: "取消预约",
        buying: "抢购中",
        soldOut: "已售罄",
        ended: "已结束",
        tryAgain: "再试一次",
        needUser: "先填学号",
        checking: "查询订单…",
        armed: "已预约：开始的那一刻自动提交，请保持页面打开。",
        disarmed: "已取消预约。",
        needUserMsg: "先在上面填写学号，再抢购。",
        pending: (id) => `抢到了！订单 ${id} 正在处理中…`,
        success: (id) => `购买成功，订单 ${id} 已确认。`,
        failed: (id) => `订单 ${id} 未能完成，座位已退回，可以再试一次。`,
        duplicate: (id) => `你已经有这门课的订单（${id}），每门课每人只能买一个座位。`,
        sold_out: "来晚了，这门课已经售罄。",
        not_started: (ms) => `还没开始：开始时间 ${when(ms)}。`,
        ended_msg: (ms) => `已经结束：截止时间 ${when(ms)}。`,
        forbidden: "服务器拒绝了这次购买：需要带签名的购买链接。请从学校的选课系统进入抢购页面。",
        refused403: (why) => `服务器拒绝了这次购买（${why}）。`,
        unknown_course: "没有这门课（可能已经下架）。",
        bad_request: (why) => `请求被拒绝：${why}`,
        too_many: (n) => `点得太快了，请 ${n} 秒后再试。`,
        unavailable: (n) => `系统繁忙，这次没有买到，座位没有被占用；${n} 秒后可以再试。`,
        unexpected: (s) => `服务器出了问题（HTTP ${s}），这次没有买到，可以再试一次。`,
        network: "网络出错，正在查询这次是否买到…",
        networkNone: "网络出错，这次没有买到，可以再试一次。",
    },
    en: {
        locale: "en-GB",
        title: "Course Seckill",
        switchTo: "中文",
        switchLabel: "切换到中文",
        who: "Who am I",
        userLabel: "Student number",
        userHelp: "4 to 16 digits, e.g. 2023010203.",
        userWhy: "Enter your student number: the Buy buttons wait for it.",
        userReady: (id) => `Buying as student ${id}.`,
        notDigits: "A student number has digits only.",
        leadingZero: "A student number does not start with 0.",
        tooShort: "A student number has at least 4 digits.",
        tooLong: "A student number has at most 16 digits.",
        courses: "Courses",
        myOrders: "My orders",
        ordersNoUser: "Your orders show here once you enter your student number.",
        ordersChecking: "Checking your orders…",
        ordersUnknown: "Your orders cannot be checked right now; retrying by itself.",
        noOrders: "No orders yet.",
        orderLine: (name, id, st) => `${name} · order ${id} · ${st}`,
        statusWord: { pending: "processing", success: "confirmed", failed: "not completed" },
        clockSynced: (t) => `Server time ${t}`,
        clockUnsynced: "Not synced with the server's clock yet",
        serviceBusy: (n) => `Service busy; the counts may be out of date. Retrying in ${n} s…`,
        offline: (n) => `Cannot reach the server; retrying in ${n} s…`,
        badge: {
            upcoming: "Not started", armed: "Queued", open: "On sale", buying: "Sending",
            yours: "Yours", soldout: "Sold out", ended: "Ended",
            unavailable: "Unavailable", refused: "Refused",
        },
        seatsLabel: "Seats left",
        seats: (r, t) => `${r} of ${t} seats left`,
        startsAt: (ms) => `Starts ${when(ms)}`,
        countdown: (ms) => `Starts in ${duration(ms)}`,
        days: (n) => (n === 1 ? "1 day" : `${n} days`),
        endsAt: (ms) => `Until ${when(ms)}`,
        endedAt: (ms) => `Ended ${when(ms)}`,
        sending: "Sending…",
        slow: (s) => `Still waiting for the server's confirmation (${s} s)…`,
        yourOrder: (id, st) => `Your order ${id} · ${st}`,
        soldOutDetail: "Every seat is taken.",
        busyRetry: (n) => `Service busy, retrying in ${n} s…`,
        busyWait: (n) => `Service busy; try again in ${n} s.`,
        tooManyWait: (n) => `Too many attempts; try again in ${n} s.`,
        buy: "Buy",
        buyAtStart: "Buy at start",
        armedButton: "Queued",
        cancel: "Cancel",
        buying: "Buying",
        soldOut: "Sold out",
        ended: "Ended",
        tryAgain: "Try again",
        needUser: "Enter student no.",
        checking: "Checking…",
        armed: "Queued: sent the moment the sale opens; keep this page open.",
        disarmed: "No longer queued.",
        needUserMsg: "Enter your student number above first.",
        pending: (id) => `Got it! Order ${id} is being processed…`,
        success: (id) => `Done: order ${id} is confirmed.`,
        failed: (id) => `Order ${id} could not be completed; the seat went back on sale, try again.`,
        duplicate: (id) => `You already have an order for this course (${id}); one seat per student.`,
        sold_out: "Too late: this course is sold out.",
        not_started: (ms) => `Not open yet: the sale starts ${when(ms)}.`,
        ended_msg: (ms) => `The sale is over: it ended ${when(ms)}.`,
        forbidden: "The server refused this purchase: it needs a signed purchase link. Open the sale from your school's course system.",
        refused403: (why) => `The server refused this purchase (${why}).`,
        unknown_course: "There is no such course (it may have been taken off sale).",
        bad_request: (why) => `The request was refused: ${why}`,
        too_many: (n) => `Too many attempts; try again in ${n} s.`,
        unavailable: (n) => `The system is busy: no seat was taken this time; try again in ${n} s.`,
        unexpected: (s) => `The server failed (HTTP ${s}); nothing was bought, try again.`,
        network: "Network error; checking whether the purchase went through…",
        networkNone: "Network error: nothing was bought, try again.",
    },
};

const state = {
    lang: localStorage.getItem("seckill.lang") === "en" ? "en" : "zh",
    user: null,             // a valid student number, or null
};

function t(key, ...args) {
    const v = TEXT[state.lang][key];
    return typeof v === "function" ? v(...args) : v;
}

// --- the server's clock ------------------------------------------------

const clock = { samples: [], offset: 0, rtt: Infinity };

function localNow() {
    return performance.timeOrigin + performance.now();
}

function serverNow() {
    return localNow() + clock.offset;
}

function synced() {
    return clock.samples.length > 0;
}

function sampleClock(sent, received, serverMs) {
    clock.samples.push({ rtt: received - sent, offset: serverMs - (sent + received) / 2 });
    if (clock.samples.length > SYNC_KEEP) clock.samples.shift();
    const best = clock.samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
    clock.offset = best.offset;
    clock.rtt = best.rtt;
}

// The first server moment at which the course is surely on sale.
function opensAt(course) {
    return course.starts_at + Math.ceil(clock.rtt / 2) + 1;
}

// A moment in the student's time zone, the zone said ("GMT+8"). Formatters
// are costly to make and the page redraws every second: kept per language.
const formatters = new Map();

function formatter(options) {
    const key = `${state.lang} ${JSON.stringify(options)}`;
    if (!formatters.has(key)) {
        formatters.set(key, new Intl.DateTimeFormat(TEXT[state.lang].locale, { ...options, hourCycle: "h23" }));
    }
    return formatters.get(key);
}

function inZone(ms, options) {
    const zone = formatter({ timeZoneName: "shortOffset" })
        .formatToParts(ms).find((p) => p.type === "timeZoneName");
    const text = formatter(options).format(ms);
    return zone ? `${text} ${zone.value}` : text;
}

function when(ms) {
    return inZone(ms, { year: "numeric", month: "short", day: "numeric", weekday: "short",
        hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function clockText(ms) {
    return inZone(ms, { month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function duration(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    const d = Math.floor(s / 86400);
    const hms = [Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60]
        .map((n) => String(n).padStart(2, "0")).join(":");
    return d > 0 ? `${t("days", d)} ${hms}` : hms;
}

function secondsLeft(untilServerMs, now) {
    return Math.max(1, Math.ceil((untilServerMs - now) / 1000));
}

// --- the student number ------------------------------------------------

// A student number: digits only (full-width digits from a Chinese input
// method count), no leading 0, 4 to 16 digits, and an id the API accepts.
// "tooShort" is only said once the student has finished typing.
function parseStudentNumber(raw) {
    const s = raw.trim().replace(/[０-９]/g,
        (c) => String.fromCharCode(c.charCodeAt(0) - 0xFEE0));
    if (s === "") return { id: null, error: null };
    if (!/^[0-9]+$/.test(s)) return { id: null, error: "notDigits" };
    if (s[0] === "0") return { id: null, error: "leadingZero" };
    if (s.length < 4) return { id: null, error: "tooShort" };
    if (s.length > 16 || Number(s) > MAX_ID) return { id: null, error: "tooLong" };
    return { id: s, error: null };
}

// --- the courses, each with what the page knows about it -----------------

const service = {
    up: false,              // the last /api/courses answered
    reason: null,           // "busy" (an error status) or "offline" (no answer)
    failures: 0,            // in a row
    retryAt: 0,             // server ms of the next poll while down
};

const courses = new Map();  // course id -> entry (newEntry)

function newEntry(course) {
    return {
        course,             // the latest list entry, with `patch` applied
        patch: null,        // { fields, at }: an answer newer than the list
        order: undefined,   // undefined: not known yet; null: none; { status, order_id }
        lookup: null,       // the user whose order lookup is in flight
        following: false,
        armed: false,       // a click before the start, sent at the start
        buying: 0,          // local ms the purchase in flight was sent, else 0
        waitUntil: 0,       // server ms before which Buy waits (503, 429)
        waitKey: null,
        refused: false,     // the last purchase was refused (a 403, 404, 400)
        msg: null,          // { tone, key, args, state }: the last result, said aloud
        card: null,
    };
}

// One state per card: the first row that holds. What stays true while the
// service is down (the student's order, a sale that is over) is shown as
// it is; everything below "unavailable" depends on fresh counts.
const STATES = [
    ["buying",      (e) => e.buying > 0],
    ["yours",       (e) => e.order != null && e.order.status !== "failed"],
    ["ended",       (e, now) => now >= e.course.ends_at],
    ["unavailable", (e, now) => !service.up || e.waitUntil > now],
    ["upcoming",    (e, now) => now < opensAt(e.course)],
    ["soldout",     (e) => e.course.remaining <= 0],
    ["refused",     (e) => e.refused],
    ["open",        () => true],
];

function stateOf(e, now) {
    return STATES.find(([, holds]) => holds(e, now))[0];
}

// What the button of each state says and does: [label, action]. Only "buy"
// and "arm" leave it enabled; otherwise it is aria-disabled, not disabled,
// so that it keeps keyboard focus across a change of state. Both need a
// student number and the student's order for this course looked up first.
const BUTTONS = {
    upcoming:    (e) => (e.armed ? ["armedButton", null] : ["buyAtStart", "arm"]),
    open:        () => ["buy", "buy"],
    refused:     () => ["tryAgain", "buy"],
    buying:      () => ["buying", null],
    yours:       () => null,
    soldout:     () => ["soldOut", null],
    ended:       () => ["ended", null],
    unavailable: () => ["buy", null],
};

function buttonOf(e, st) {
    const b = BUTTONS[st](e);
    if (!b || !b[1]) return b;
    if (!state.user) return ["needUser", "askUser"];
    if (e.order === undefined) return ["checking", null];
    return b;
}

// The card's two lines under the seats: when, and what is going on.
function linesOf(e, st, now) {
    const c = e.course;
    switch (st) {
    case "upcoming":
        return [t("startsAt", c.starts_at), t("countdown", opensAt(c) - now)];
    case "open":
    case "refused":
        return [t("endsAt", c.ends_at), ""];
    case "buying": {
        const waited = localNow() - e.buying;
        return [t("endsAt", c.ends_at),
            waited < SLOW_MS ? t("sending") : t("slow", Math.floor(waited / 1000))];
    }
    case "yours":
        return ["", t("yourOrder", e.order.order_id, TEXT[state.lang].statusWord[e.order.status])];
    case "soldout":
        return [t("endsAt", c.ends_at), t("soldOutDetail")];
    case "ended":
        return [t("endedAt", c.ends_at), ""];
    default:            // unavailable
        if (!service.up) return ["", t("busyRetry", secondsLeft(service.retryAt, now))];
        return ["", t(e.waitKey, secondsLeft(e.waitUntil, now))];
    }
}

// --- drawing -------------------------------------------------------------

function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props);
    node.append(...children);
    return node;
}

// Only a real change is written: a live region would otherwise be read
// again, and a screen reader's place would jump.
function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
}

function setAttr(node, name, value) {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

function buildCard(e) {
    const id = e.course.id;
    const bar = el("div", { className: "bar" }, el("div"));
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    const card = {
        name: el("h3", { id: `name-${id}` }),
        badge: el("span", { className: "badge" }),
        bar,
        count: el("span", { className: "count" }),
        when: el("p", { className: "when" }),
        detail: el("p", { className: "detail", id: `detail-${id}` }),
        button: el("button", { type: "button", className: "buy" }),
        cancel: el("button", { type: "button", className: "cancel", hidden: true }),
        msg: el("p", { className: "msg", id: `msg-${id}` }),
    };
    card.msg.setAttribute("role", "status");
    card.button.setAttribute("aria-describedby", `name-${id} detail-${id} msg-${id}`);
    card.button.addEventListener("click", () => onBuy(e));
    card.cancel.addEventListener("click", () => onCancel(e));
    card.actions = el("div", { className: "actions" }, card.button, card.cancel);
    card.li = el("li", { className: "course", tabIndex: -1 },
        el("div", { className: "head" }, card.name, card.badge),
        el("div", { className: "seats" }, bar, card.count),
        card.when, card.detail, card.actions, card.msg);
    card.li.dataset.courseId = String(id);
    card.li.setAttribute("aria-labelledby", `name-${id}`);
    return card;
}

function drawCard(e, now) {
    const card = e.card;
    const c = e.course;
    const st = stateOf(e, now);
    const button = buttonOf(e, st);
    const [whenLine, detail] = linesOf(e, st, now);
    const badge = st === "upcoming" && e.armed ? "armed" : st;

    setAttr(card.li, "data-state", st);
    card.li.classList.toggle("armed", st === "upcoming" && e.armed);
    setAttr(card.li, "aria-busy", String(st === "buying"));
    setAttr(card.li, "data-order", st === "yours" ? e.order.status : "");
    setText(card.name, c.name);
    setText(card.badge, TEXT[state.lang].badge[badge]);
    setAttr(card.bar, "aria-valuemax", String(c.total));
    setAttr(card.bar, "aria-valuenow", String(Math.max(0, c.remaining)));
    setAttr(card.bar, "aria-label", t("seatsLabel"));
    card.bar.firstChild.style.width = c.total > 0
        ? `${(100 * Math.max(0, c.remaining)) / c.total}%` : "0";
    setText(card.count, t("seats", Math.max(0, c.remaining), c.total));
    setText(card.when, whenLine);
    setText(card.detail, detail);
    card.detail.className = st === "upcoming" ? "detail countdown" : "detail";

    const focused = document.activeElement;
    const hadFocus = focused === card.button || focused === card.cancel;
    card.actions.hidden = !button;
    if (button) {
        setText(card.button, t(button[0]));
        // Without a student number the button is disabled but still
        // answers a click: it says why and leads to the field.
        setAttr(card.button, "aria-disabled", String(button[1] !== "buy" && button[1] !== "arm"));
        card.button.dataset.action = button[1] || "";
    }
    card.cancel.hidden = !(st === "upcoming" && e.armed);
    setText(card.cancel, t("cancel"));
    // The focused control went away (the purchase went through, the queued
    // one was sent): keep the keyboard on this card, not the page's top.
    if (hadFocus && (card.actions.hidden || focused.hidden)) {
        (card.actions.hidden ? card.li : card.button).focus();
    }

    // A result belongs to the state it led to: once the card moves on (a
    // wait ran out, the sale opened), it is no longer news.
    if (e.msg && !e.msg.state) e.msg.state = st;
    else if (e.msg && e.msg.state !== st) e.msg = null;
    card.msg.className = e.msg ? `msg ${e.msg.tone}` : "msg";
    setText(card.msg, e.msg ? t(e.msg.key, ...e.msg.args) : "");
}

function drawOrders() {
    const list = document.getElementById("orders");
    const held = [...courses.values()].filter((e) => e.order);
    const items = held.map((e) => {
        const li = el("li", {
            className: `order ${e.order.status}`,
            textContent: t("orderLine", e.course.name, e.order.order_id,
                TEXT[state.lang].statusWord[e.order.status]),
        });
        li.dataset.courseId = String(e.course.id);
        li.dataset.status = e.order.status;
        return li;
    });
    const same = items.length === list.children.length
        && items.every((li, i) => li.textContent === list.children[i].textContent
            && li.className === list.children[i].className);
    if (!same) list.replaceChildren(...items);

    // Why the list is empty, or why it may be incomplete.
    const unknown = [...courses.values()].some((e) => e.order === undefined)
        || (courses.size === 0 && !service.up);
    let why = "";
    if (!state.user) why = "ordersNoUser";
    else if (unknown) why = service.up ? "ordersChecking" : "ordersUnknown";
    else if (items.length === 0) why = "noOrders";
    const note = document.getElementById("orders-note");
    note.hidden = !why;
    setText(note, why ? t(why) : "");
}

function draw(now) {
    const list = document.getElementById("courses");
    let i = 0;
    for (const e of courses.values()) {
        if (!e.card) e.card = buildCard(e);
        drawCard(e, now);
        // Moving a node would drop focus: only move it when out of place.
        if (list.children[i] !== e.card.li) list.insertBefore(e.card.li, list.children[i] || null);
        i++;
    }
    while (list.children.length > courses.size) list.lastChild.remove();

    setText(document.getElementById("clock"),
        synced() ? t("clockSynced", clockText(now)) : t("clockUnsynced"));
    const notice = document.getElementById("notice");
    setText(notice, service.failures === 0 ? ""
        : t(service.reason === "offline" ? "offline" : "serviceBusy", secondsLeft(service.retryAt, now)));
    notice.hidden = notice.textContent === "";
    drawOrders();
}

function drawStatic() {
    document.documentElement.lang = TEXT[state.lang].locale;
    document.title = state.lang === "zh" ? "课程秒杀 · Course Seckill" : "Course Seckill · 课程秒杀";
    for (const node of document.querySelectorAll("[data-i18n]")) {
        node.textContent = t(node.dataset.i18n);
    }
    const lang = document.getElementById("lang");
    lang.textContent = t("switchTo");
    lang.setAttribute("aria-label", t("switchLabel"));
    drawUser();
    update();
}

// --- the one timer: armed purchases sent, then the page redrawn ----------

let tickTimer = 0;

function update() {
    const now = serverNow();
    for (const e of courses.values()) {
        if (e.armed && state.user && now >= opensAt(e.course)) purchase(e);
    }
    draw(now);
    clearTimeout(tickTimer);
    tickTimer = setTimeout(update, nextChange(serverNow()));
}

// Milliseconds until something on the page changes: the clock's next
// second, a countdown's next second, a course opening or ending, a wait
// running out.
function nextChange(now) {
    let next = 1000 - (now % 1000);
    const soon = (at) => {
        if (at > now) next = Math.min(next, (at - now) % 1000 || 1000);
    };
    for (const e of courses.values()) {
        soon(opensAt(e.course));
        soon(e.course.ends_at);
        soon(e.waitUntil);
    }
    if (!service.up) soon(service.retryAt);
    return Math.max(1, Math.ceil(next));
}

// --- purchases -------------------------------------------------------------

function say(e, tone, key, ...args) {
    e.msg = { tone, key, args };
}

function onBuy(e) {
    const action = e.card.button.dataset.action;
    if (action === "askUser") {
        say(e, "warn", "needUserMsg");
        document.getElementById("user-id").focus();
    } else if (action === "arm") {
        e.armed = true;
        say(e, "info", "armed");
    } else if (action === "buy") {
        purchase(e);
    }
    update();
}

function onCancel(e) {
    e.armed = false;
    say(e, "info", "disarmed");
    update();
    e.card.button.focus();
}

// Sends the one request of a click; the caller redraws.
function purchase(e) {
    const user = state.user;
    const sent = localNow();
    e.armed = false;
    e.refused = false;
    e.msg = null;
    e.buying = sent;
    send(e, user, sent);
}

async function send(e, user, sent) {
    let res = null;
    let body = {};
    try {
        res = await fetch(`/api/seckill/${e.course.id}/${user}`, { method: "POST", cache: "no-store" });
        try { body = await res.json(); } catch (err) { /* not JSON: the status decides */ }
    } catch (err) {
        res = null;
    }
    if (e.buying !== sent) return;          // the student changed numbers meanwhile
    e.buying = 0;
    if (user === state.user) answer(e, res, body, user);
    pollSoon();
    update();
}

function retryAfter(res) {
    return Math.max(1, parseInt(res.headers.get("Retry-After") || "1", 10) || 1);
}

// An answer newer than the course list: kept over lists requested before it.
function patch(e, fields) {
    e.patch = { fields, at: localNow() };
    e.course = { ...e.course, ...fields };
}

function wait(e, key, secs) {
    e.waitUntil = serverNow() + secs * 1000;
    e.waitKey = key;
}

function refuse(e, key, ...args) {
    e.refused = true;
    say(e, "bad", key, ...args);
}

// What each answer of POST /api/seckill/{course}/{user} does to the card.
const ANSWERS = {
    200: (e, body, res, user) => {
        setOrder(e, "pending", body.order_id, user);
        say(e, "ok", "pending", body.order_id);
    },
    409: (e, body, res, user) => {
        setOrder(e, e.order ? e.order.status : "pending", body.order_id, user);
        say(e, "warn", "duplicate", body.order_id);
    },
    410: (e) => {
        patch(e, { remaining: 0 });
        say(e, "warn", "sold_out");
    },
    403: (e, body) => {
        if (body.status === "not_started" && Number.isFinite(body.starts_at)) {
            patch(e, { starts_at: body.starts_at });
            say(e, "warn", "not_started", body.starts_at);
        } else if (body.status === "ended" && Number.isFinite(body.ends_at)) {
            patch(e, { ends_at: body.ends_at });
            say(e, "warn", "ended_msg", body.ends_at);
        } else if (body.status === "forbidden") {
            refuse(e, "forbidden");
        } else {
            refuse(e, "refused403", body.error || body.status || "HTTP 403");
        }
    },
    404: (e) => refuse(e, "unknown_course"),
    400: (e, body) => refuse(e, "bad_request", body.error || "HTTP 400"),
    429: (e, body, res) => {
        const secs = retryAfter(res);
        wait(e, "tooManyWait", secs);
        say(e, "warn", "too_many", secs);
    },
    503: (e, body, res) => {
        const secs = retryAfter(res);
        wait(e, "busyWait", secs);
        say(e, "warn", "unavailable", secs);
    },
};

function answer(e, res, body, user) {
    if (!res) {
        // The request may have reached the server: ask what became of it.
        e.order = undefined;
        say(e, "warn", "network");
        lookupOrders();
        return;
    }
    const handle = ANSWERS[res.status];
    if (handle) handle(e, body, res, user);
    else say(e, "bad", "unexpected", res.status);
}

// --- orders --------------------------------------------------------------

function setOrder(e, status, orderId, user) {
    e.order = { status, order_id: orderId };
    if (status === "pending") follow(e, user);
}

async function fetchOrder(courseId, user) {
    try {
        const res = await fetch(`/api/orders/${courseId}/${user}`, { cache: "no-store" });
        if (res.status === 404) return null;
        if (!res.ok) return undefined;
        return await res.json();
    } catch (err) {
        return undefined;
    }
}

// Follows one order until it is final, backing off from 0.5 s to 5 s.
async function follow(e, user) {
    if (e.following) return;
    e.following = true;
    let delay = 500;
    try {
        while (user === state.user && courses.get(e.course.id) === e) {
            await new Promise((r) => setTimeout(r, delay));
            if (user !== state.user) return;
            const o = await fetchOrder(e.course.id, user);
            if (o !== undefined && user === state.user) {
                const was = e.order && e.order.status;
                e.order = o ? { status: o.status, order_id: o.order_id } : null;
                // A duplicate's order confirmed is not a second purchase:
                // its card says "confirmed" without announcing a success.
                const announced = !e.msg || e.msg.key === "pending";
                if (o && o.status === "success" && was !== "success" && announced) {
                    say(e, "ok", "success", o.order_id);
                }
                if (o && o.status === "failed" && was !== "failed") say(e, "warn", "failed", o.order_id);
                update();
                if (!o || o.status !== "pending") return;
            }
            delay = Math.min(5000, delay * 1.5);
        }
    } finally {
        e.following = false;
    }
}

// Looks up the student's order of every course not known yet.
function lookupOrders() {
    const user = state.user;
    if (!user) return;
    for (const e of courses.values()) {
        if (e.order !== undefined || e.lookup === user || e.buying) continue;
        e.lookup = user;
        fetchOrder(e.course.id, user).then((o) => {
            if (e.lookup === user) e.lookup = null;
            if (user !== state.user || o === undefined || e.buying) return;
            if (o && o.status === "pending") setOrder(e, o.status, o.order_id, user);
            else e.order = o && { status: o.status, order_id: o.order_id };
            if (!o && e.msg && e.msg.key === "network") say(e, "warn", "networkNone");
            update();
        });
    }
}

// --- the course list, one request at a time ------------------------------

let polling = false;
let pollAgain = false;
let pollTimer = 0;

// A fresh list soon (after a purchase's answer), never two at a time.
function pollSoon() {
    if (polling) {
        pollAgain = true;
    } else if (service.up) {
        clearTimeout(pollTimer);
        pollTimer = setTimeout(poll, 0);
    }
}

// The new list, in the server's order; what the page knows of each course
// is kept, a course gone from the list is dropped.
function merge(list, sent) {
    const entries = list.map((c) => {
        const e = courses.get(c.id) || newEntry(c);
        if (e.patch && e.patch.at > sent) {
            e.course = { ...c, ...e.patch.fields };
        } else {
            e.patch = null;
            e.course = c;
        }
        return e;
    });
    courses.clear();
    for (const e of entries) courses.set(e.course.id, e);
}

// Not answering: polls wait Retry-After, doubled while it lasts (at most
// RETRY_MAX_MS), so a crowd's pages do not hammer a server in trouble.
function down(reason, secs) {
    service.up = false;
    service.reason = reason;
    service.failures++;
    const ms = Math.min(RETRY_MAX_MS, secs * 1000 * 2 ** (service.failures - 1));
    service.retryAt = serverNow() + ms;
    return ms;
}

async function poll() {
    if (document.hidden) {
        pollTimer = setTimeout(poll, POLL_MS);
        return;
    }
    polling = true;
    let next = POLL_MS;
    const sent = localNow();
    try {
        const res = await fetch("/api/courses", { cache: "no-store" });
        const received = localNow();
        if (res.ok) {
            const data = await res.json();
            sampleClock(sent, received, data.now);
            merge(data.courses, sent);
            service.up = true;
            service.failures = 0;
            if (clock.samples.length < SYNC_FIRST) next = 0;
            lookupOrders();
        } else {
            next = down("busy", retryAfter(res));
        }
    } catch (err) {
        next = down("offline", 1);
    } finally {
        polling = false;
        if (pollAgain && service.up) next = 0;
        pollAgain = false;
        pollTimer = setTimeout(poll, next);
        update();
    }
}

// --- the student number field -------------------------------------------

// "tooShort" waits until the student has finished typing (the change
// event); every other mistake is said at once.
let userFinished = true;

function drawUser() {
    const input = document.getElementById("user-id");
    const { id, error } = parseStudentNumber(input.value);
    const shown = error === "tooShort" && !userFinished ? null : error;
    setText(document.getElementById("user-error"), shown ? t(shown) : "");
    input.setAttribute("aria-invalid", String(Boolean(shown)));
    setText(document.getElementById("user-why"), id ? t("userReady", id) : t("userWhy"));
    return id;
}

function setUser(finished) {
    userFinished = finished;
    const id = drawUser();
    if (id === state.user) return;
    state.user = id;
    if (id) localStorage.setItem("seckill.user", id);
    for (const e of courses.values()) {
        Object.assign(e, { order: undefined, armed: false, buying: 0, msg: null,
            refused: false, waitUntil: 0 });
    }
    lookupOrders();
    update();
}

function start() {
    const input = document.getElementById("user-id");
    input.value = localStorage.getItem("seckill.user") || "";
    state.user = parseStudentNumber(input.value).id;
    input.addEventListener("input", () => setUser(false));
    input.addEventListener("change", () => setUser(true));
    document.getElementById("user-form").addEventListener("submit", (ev) => {
        ev.preventDefault();
        setUser(true);
    });
    document.getElementById("lang").addEventListener("click", () => {
        state.lang = state.lang === "zh" ? "en" : "zh";
        localStorage.setItem("seckill.lang", state.lang);
        drawStatic();
    });
    document.addEventListener("visibilitychange", () => {
        if (!document.hidden) pollSoon();
    });
    drawStatic();
    poll();
}

start();

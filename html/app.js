// Course Seckill's page: the course list with live seats and sale state, a
// Buy button per course, and the student's orders followed until they are
// final. Times come from the server's clock (`now` in /api/courses), so a
// wrong clock on the student's device changes nothing.
"use strict";

const REFRESH_MS = 1500;
const MAX_ID = 9007199254740991;            // 2^53 - 1, as the API accepts

const TEXT = {
    zh: {
        title: "课程秒杀",
        switchTo: "English",
        switchLabel: "Switch to English",
        who: "我是谁",
        userLabel: "学号（用户 ID）",
        userHelp: "1 到 9007199254740991 之间的整数",
        userInvalid: "请输入 1 到 9007199254740991 之间的整数，不要带空格或其他字符。",
        courses: "课程",
        myOrders: "我的订单",
        noOrders: "还没有订单。",
        serverTime: (t) => `服务器时间 ${t}`,
        seatsLeft: "剩余座位",
        seats: (r, t) => `剩余 ${r} / ${t}`,
        startsIn: (d) => `距开始 ${d}`,
        open: "抢购中",
        soldOut: "已售罄",
        ended: "已结束",
        buy: "抢购",
        buying: "正在抢购…",
        enterUser: "先在上面填写学号。",
        loadFailed: (e) => `暂时无法获取课程（${e}），正在重试…`,
        pending: (id) => `抢到了！订单 ${id} 正在处理中…`,
        success: (id) => `购买成功，订单 ${id} 已确认。`,
        failed: (id) => `订单 ${id} 未能完成，座位已退回，可以再试一次。`,
        duplicate: (id) => `你已经有这门课的订单（${id}），每门课每人只能买一个座位。`,
        sold_out: "来晚了，这门课已经售罄。",
        not_started: (t) => `还没开始，开始时间 ${t}。`,
        ended_msg: (t) => `已经结束（${t}）。`,
        unknown_course: "没有这门课。",
        bad_request: (e) => `请求有误：${e}`,
        too_many: "操作太频繁，请稍等再试。",
        unavailable: (s) => `系统繁忙，请 ${s} 秒后再试。`,
        network: "网络出错，请检查网络后再试。",
        statusWord: { pending: "处理中", success: "已成功", failed: "未完成" },
        orderLine: (name, id, st) => `${name} · 订单 ${id} · ${st}`,
    },
    en: {
        title: "Course Seckill",
        switchTo: "中文",
        switchLabel: "切换到中文",
        who: "Who am I",
        userLabel: "Student number (user id)",
        userHelp: "A whole number from 1 to 9007199254740991",
        userInvalid: "Enter a whole number from 1 to 9007199254740991, digits only.",
        courses: "Courses",
        myOrders: "My orders",
        noOrders: "No orders yet.",
        serverTime: (t) => `Server time ${t}`,
        seatsLeft: "Seats left",
        seats: (r, t) => `${r} of ${t} seats left`,
        startsIn: (d) => `Starts in ${d}`,
        open: "On sale",
        soldOut: "Sold out",
        ended: "Ended",
        buy: "Buy",
        buying: "Buying…",
        enterUser: "Enter your student number above first.",
        loadFailed: (e) => `Cannot load the courses right now (${e}); retrying…`,
        pending: (id) => `Got it! Order ${id} is being processed…`,
        success: (id) => `Done: order ${id} is confirmed.`,
        failed: (id) => `Order ${id} could not be completed; the seat went back on sale, try again.`,
        duplicate: (id) => `You already have an order for this course (${id}); one seat per student.`,
        sold_out: "Too late: this course is sold out.",
        not_started: (t) => `Not open yet: the sale starts at ${t}.`,
        ended_msg: (t) => `The sale has ended (${t}).`,
        unknown_course: "There is no such course.",
        bad_request: (e) => `The request was refused: ${e}`,
        too_many: "Too many attempts; wait a moment and try again.",
        unavailable: (s) => `The system is busy; try again in ${s} s.`,
        network: "Network error; check your connection and try again.",
        statusWord: { pending: "processing", success: "confirmed", failed: "not completed" },
        orderLine: (name, id, st) => `${name} · order ${id} · ${st}`,
    },
};

const state = {
    lang: localStorage.getItem("seckill.lang") === "en" ? "en" : "zh",
    userId: null,           // a valid id string, or null
    clockOffset: 0,         // server time - local time, ms
    courses: [],            // last /api/courses answer
    orders: new Map(),      // course id -> { status, order_id }
    messages: new Map(),    // course id -> { key, args } (re-rendered on language change)
    busy: new Set(),        // course ids with a purchase in flight
    retryAt: new Map(),     // course id -> server ms before which Buy waits (Retry-After)
    following: new Set(),   // course ids whose order is being followed
};

function t(key, ...args) {
    const v = TEXT[state.lang][key];
    return typeof v === "function" ? v(...args) : v;
}

function serverNow() {
    return Date.now() + state.clockOffset;
}

function formatTime(ms) {
    return new Date(ms).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB");
}

function formatDuration(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    const d = Math.floor(s / 86400);
    const hms = [Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60]
        .map((n) => String(n).padStart(2, "0")).join(":");
    return d > 0 ? `${d}d ${hms}` : hms;
}

// The same rule as the API: digits only, no leading zero, 1 .. 2^53-1.
function validId(text) {
    return /^[1-9][0-9]{0,15}$/.test(text) && Number(text) <= MAX_ID;
}

function saleState(course, now) {
    if (now < course.starts_at) {
        return { open: false, key: "startsIn", arg: formatDuration(course.starts_at - now) };
    }
    if (now >= course.ends_at) {
        return { open: false, key: "ended" };
    }
    if (course.remaining <= 0) {
        return { open: false, key: "soldOut" };
    }
    return { open: true, key: "open" };
}

function courseName(id) {
    const c = state.courses.find((x) => x.id === id);
    return c ? c.name : `#${id}`;
}

function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props);
    node.append(...children);
    return node;
}

// Each course's card is built once and then updated in place, so a click or
// keyboard focus on its Buy button survives the refreshes.
const cards = new Map();    // course id -> the card's elements

function buildCard(course) {
    const bar = el("div", { className: "bar" }, el("div"));
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    const button = el("button", { type: "button", className: "buy" });
    button.dataset.courseId = String(course.id);
    button.setAttribute("aria-describedby", `msg-${course.id}`);
    button.addEventListener("click", () => buy(course.id));
    const card = {
        name: el("h3"),
        bar,
        count: el("span", { className: "count" }),
        sale: el("p"),
        button,
        msg: el("p", { id: `msg-${course.id}` }),
    };
    card.li = el("li", { className: "course" },
        card.name,
        el("div", { className: "seats" }, bar, card.count),
        el("div", { className: "actions" }, card.sale, button),
        card.msg);
    card.li.dataset.courseId = String(course.id);
    return card;
}

function updateCard(card, course, now) {
    const sale = saleState(course, now);
    const waiting = (state.retryAt.get(course.id) || 0) > now;
    const msg = state.messages.get(course.id);

    card.name.textContent = course.name;
    card.bar.setAttribute("aria-valuemax", String(course.total));
    card.bar.setAttribute("aria-valuenow", String(course.remaining));
    card.bar.setAttribute("aria-label", t("seatsLeft"));
    card.bar.firstChild.style.width = course.total > 0
        ? `${(100 * course.remaining) / course.total}%` : "0";
    card.count.textContent = t("seats", course.remaining, course.total);
    card.sale.className = sale.open ? "state open" : "state";
    card.sale.textContent = t(sale.key, sale.arg);
    card.button.textContent = state.busy.has(course.id) ? t("buying") : t("buy");
    // Holding an order does not disable Buy: the server is the judge, and
    // it answers "duplicate" with the order the student already has.
    card.button.disabled = !sale.open || waiting
        || state.busy.has(course.id) || !state.userId;
    card.msg.className = msg ? `msg ${msg.tone}` : "msg";
    card.msg.textContent = msg ? t(msg.key, ...msg.args) : "";
}

function renderOrders() {
    const list = document.getElementById("orders");
    const items = [...state.orders.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([cid, o]) => {
            const li = el("li", {
                className: `order ${o.status}`,
                textContent: t("orderLine", courseName(cid), o.order_id, TEXT[state.lang].statusWord[o.status]),
            });
            li.dataset.courseId = String(cid);
            li.dataset.status = o.status;
            return li;
        });
    list.replaceChildren(...items);
    document.getElementById("orders-empty").hidden = items.length > 0;
}

function render() {
    const now = serverNow();
    const list = document.getElementById("courses");
    const ids = new Set(state.courses.map((c) => c.id));
    for (const [id, card] of cards) {
        if (!ids.has(id)) { card.li.remove(); cards.delete(id); }
    }
    state.courses.forEach((course, i) => {
        let card = cards.get(course.id);
        if (!card) {
            card = buildCard(course);
            cards.set(course.id, card);
        }
        updateCard(card, course, now);
        // Moving a node would drop focus: only move it when out of place.
        if (list.children[i] !== card.li) {
            list.insertBefore(card.li, list.children[i] || null);
        }
    });
    document.getElementById("clock").textContent = t("serverTime", formatTime(now));
    renderOrders();
}

function renderStatic() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = state.lang === "zh" ? "课程秒杀 · Course Seckill" : "Course Seckill · 课程秒杀";
    for (const node of document.querySelectorAll("[data-i18n]")) {
        node.textContent = t(node.dataset.i18n);
    }
    const lang = document.getElementById("lang");
    lang.textContent = t("switchTo");
    lang.setAttribute("aria-label", t("switchLabel"));
    const input = document.getElementById("user-id");
    document.getElementById("user-error").textContent =
        input.value && !state.userId ? t("userInvalid") : "";
    render();
}

function say(courseId, tone, key, ...args) {
    state.messages.set(courseId, { tone, key, args });
}

async function buy(courseId) {
    if (!state.userId) {
        say(courseId, "warn", "enterUser");
        render();
        return;
    }
    const user = state.userId;
    state.busy.add(courseId);
    render();
    try {
        const res = await fetch(`/api/seckill/${courseId}/${user}`, { method: "POST" });
        let body = {};
        try { body = await res.json(); } catch (e) { /* a non-JSON answer: handled by status */ }
        if (user !== state.userId) return;     // the student switched ids meanwhile
        switch (res.status) {
        case 200:
            setOrder(courseId, "pending", body.order_id);
            say(courseId, "ok", "pending", body.order_id);
            follow(courseId, user);
            break;
        case 409:
            setOrder(courseId, state.orders.get(courseId)?.status || "pending", body.order_id);
            say(courseId, "warn", "duplicate", body.order_id);
            follow(courseId, user);
            break;
        case 410:
            say(courseId, "warn", "sold_out");
            break;
        case 403:
            if (body.status === "not_started") say(courseId, "warn", "not_started", formatTime(body.starts_at));
            else say(courseId, "warn", "ended_msg", formatTime(body.ends_at));
            break;
        case 404:
            say(courseId, "warn", "unknown_course");
            break;
        case 429:
            say(courseId, "warn", "too_many");
            break;
        case 503: {
            const secs = Math.max(1, parseInt(res.headers.get("Retry-After") || "1", 10) || 1);
            state.retryAt.set(courseId, serverNow() + secs * 1000);
            say(courseId, "warn", "unavailable", secs);
            setTimeout(render, secs * 1000 + 50);
            break;
        }
        default:
            say(courseId, "warn", "bad_request", body.error || `HTTP ${res.status}`);
        }
    } catch (err) {
        say(courseId, "warn", "network");
    } finally {
        state.busy.delete(courseId);
        render();
    }
}

function setOrder(courseId, status, orderId) {
    state.orders.set(courseId, { status, order_id: orderId });
}

// Follows one order until it is final, backing off from 0.5 s to 5 s.
async function follow(courseId, user) {
    if (state.following.has(courseId)) return;
    state.following.add(courseId);
    let delay = 500;
    try {
        for (;;) {
            await new Promise((r) => setTimeout(r, delay));
            if (user !== state.userId) return;
            const o = await fetchOrder(courseId, user);
            if (o) {
                setOrder(courseId, o.status, o.order_id);
                if (o.status === "success") say(courseId, "ok", "success", o.order_id);
                if (o.status === "failed") say(courseId, "warn", "failed", o.order_id);
                render();
                if (o.status !== "pending") return;
            }
            delay = Math.min(5000, delay * 1.5);
        }
    } finally {
        state.following.delete(courseId);
    }
}

async function fetchOrder(courseId, user) {
    try {
        const res = await fetch(`/api/orders/${courseId}/${user}`, { cache: "no-store" });
        if (res.status === 404) return null;
        if (!res.ok) return undefined;
        return await res.json();
    } catch (e) {
        return undefined;
    }
}

// A new user id: forget the last one's orders and look up this one's.
async function loadOrders(user) {
    state.orders.clear();
    state.messages.clear();
    render();
    await Promise.all(state.courses.map(async (c) => {
        const o = await fetchOrder(c.id, user);
        if (o && user === state.userId) {
            setOrder(c.id, o.status, o.order_id);
            if (o.status === "pending") follow(c.id, user);
        }
    }));
    render();
}

function setUser(text, remember) {
    const valid = validId(text);
    const next = valid ? text : null;
    document.getElementById("user-error").textContent = text && !valid ? t("userInvalid") : "";
    document.getElementById("user-id").setAttribute("aria-invalid", text && !valid ? "true" : "false");
    if (next === state.userId) return;
    state.userId = next;
    if (remember && next) localStorage.setItem("seckill.user", next);
    if (next) loadOrders(next); else { state.orders.clear(); render(); }
}

let coursesLoaded = false;

// One request at a time: the next refresh is scheduled only when this one
// has finished, so a slow server never sees requests pile up.
async function refresh() {
    const notice = document.getElementById("notice");
    try {
        const res = await fetch("/api/courses", { cache: "no-store" });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const data = await res.json();
        state.clockOffset = data.now - Date.now();
        state.courses = data.courses;
        notice.textContent = "";
        render();
        if (!coursesLoaded) {
            coursesLoaded = true;
            if (state.userId) loadOrders(state.userId);
        }
    } catch (err) {
        notice.textContent = t("loadFailed", err.message);
    } finally {
        setTimeout(tick, REFRESH_MS);
    }
}

function tick() {
    if (document.hidden) {
        setTimeout(tick, REFRESH_MS);
        return;
    }
    refresh();
}

function start() {
    const input = document.getElementById("user-id");
    const saved = localStorage.getItem("seckill.user") || "";
    input.value = saved;
    if (validId(saved)) state.userId = saved;
    input.addEventListener("input", () => setUser(input.value.trim(), true));
    document.getElementById("user-form").addEventListener("submit", (e) => e.preventDefault());
    document.getElementById("lang").addEventListener("click", () => {
        state.lang = state.lang === "zh" ? "en" : "zh";
        localStorage.setItem("seckill.lang", state.lang);
        renderStatic();
    });
    renderStatic();
    // Countdowns move every second even between two fetches.
    setInterval(() => { if (state.courses.length) render(); }, 1000);
    refresh();
}

start();

// The page in real Chromium (Debian's, headless) against t/run.sh's stack:
// the opening second measured by the server, every card state in both
// languages, the student number, Redis stopped and started under the page.
// Run by t/run.sh with `node --test`; courses 7001-7008 are this file's.
//
// Answers the test stack cannot give on demand (a secure_link refusal, a
// 429, a 503, a purchase held in flight) are played by Playwright's request
// routing, with the bodies nginx and the module really send.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { chromium } from "playwright-core";

const top = process.env.SECKILL_TOP
    || path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const run = process.env.SECKILL_RUN || `${top}/run/test`;
const base = process.env.SECKILL_PAGE_URL || "http://127.0.0.1:18080/";
const redisPort = process.env.SECKILL_REDIS_PORT || "16379";
const cliPath = `${process.env.SECKILL_BIN || `${top}/build/bin`}/seckill`;
// Screenshots go to the run directory; the README's are copied from there.
const shots = process.env.SECKILL_PAGE_SHOTS || `${run}/page`;
// A student number no other test uses, different on every run.
const user = String(7_000_000_000 + (Date.now() % 1_000_000_000));
const otherUser = String(Number(user) + 1);

const C = {
    opening: 7001,      // starts 3 s after the page loads; clicked 1 s early
    watched: 7002,      // starts with it, never clicked: opens on time
    later: 7003,        // starts in two days
    open: 7004,         // on sale: bought with the keyboard
    soldout: 7005,      // one seat, taken by someone else
    ended: 7006,        // ended an hour ago
    refused: 7007,      // answers played by routing: waits and refusals
    late: 7008,         // one seat, taken while the page's list is stale
    elsewhere: 7009,    // bought by the same student outside the page
};
const NAMES = {
    [C.opening]: "机器学习 / Machine Learning",
    [C.watched]: "人工智能导论 / Introduction to AI",
    [C.later]: "软件工程 / Software Engineering",
    [C.open]: "计算机图形学 / Computer Graphics",
    [C.soldout]: "分布式系统 / Distributed Systems",
    [C.ended]: "信息安全 / Information Security",
    [C.refused]: "计算机体系结构 / Computer Architecture",
    [C.late]: "离散数学 / Discrete Mathematics",
    [C.elsewhere]: "概率论 / Probability Theory",
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function redis(...args) {
    return execFileSync("redis-cli", ["-p", redisPort, ...args], { encoding: "utf8" }).trim();
}

function cli(...args) {
    return execFileSync(cliPath, ["-c", `${run}/conf/consumer.conf`, ...args],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function deploy(service, action) {
    execFileSync("sh", [`${top}/deploy/${service}.sh`, action], { stdio: ["ignore", "ignore", "inherit"] });
}

function removeCourses() {
    for (const id of Object.values(C)) {
        try { cli("course", "remove", String(id), "--force", "--yes"); } catch (e) { /* not there */ }
    }
}

function addCourse(id, seats, starts, ends) {
    cli("course", "add", String(id), NAMES[id], String(seats), "--starts", starts, "--ends", ends);
}

async function buyAs(course, who) {
    const res = await fetch(new URL(`api/seckill/${course}/${who}`, base), { method: "POST" });
    return res.status;
}

let browser, context, page;
// Every request the page makes: purchases by course, and how many course
// lists were in flight at once.
const traffic = { posts: new Map(), lists: 0, listsMax: 0 };

function watch(p) {
    const isList = (r) => new URL(r.url()).pathname === "/api/courses";
    p.on("request", (r) => {
        const m = new URL(r.url()).pathname.match(/^\/api\/seckill\/(\d+)\//);
        if (m && r.method() === "POST") {
            traffic.posts.set(Number(m[1]), (traffic.posts.get(Number(m[1])) || 0) + 1);
        }
        if (isList(r)) traffic.listsMax = Math.max(traffic.listsMax, ++traffic.lists);
    });
    const done = (r) => { if (isList(r)) traffic.lists--; };
    p.on("requestfinished", done);
    p.on("requestfailed", done);
}

before(async () => {
    mkdirSync(shots, { recursive: true });
    removeCourses();
    addCourse(C.later, 5, "+2d", "+3d");
    addCourse(C.open, 5, "-1m", "+1h");
    addCourse(C.soldout, 1, "-1m", "+1h");
    addCourse(C.ended, 5, "-2h", "-1h");
    addCourse(C.refused, 5, "-1m", "+1h");
    addCourse(C.late, 1, "-1m", "+1h");
    addCourse(C.elsewhere, 5, "-1m", "+1h");
    assert.equal(await buyAs(C.soldout, otherUser), 200, "someone else takes the one seat");

    browser = await chromium.launch({
        executablePath: "/usr/bin/chromium",
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    // The student is in Beijing: times on the page say GMT+8.
    context = await browser.newContext({
        viewport: { width: 360, height: 800 }, timezoneId: "Asia/Shanghai", locale: "zh-CN",
    });
    page = await context.newPage();
    watch(page);
});

after(async () => {
    try { redis("PING"); } catch (e) { deploy("redis", "start"); }
    await browser?.close();
    removeCourses();
});

const card = (id) => page.locator(`li.course[data-course-id="${id}"]`);

// Everything a card shows, read at once.
function cardInfo(id) {
    return page.evaluate((id) => {
        const li = document.querySelector(`li.course[data-course-id="${id}"]`);
        if (!li) return null;
        const q = (s) => li.querySelector(s);
        const shown = !q(".actions").hidden;
        return {
            state: li.dataset.state,
            badge: q(".badge").textContent,
            count: q(".count").textContent,
            when: q(".when").textContent,
            detail: q(".detail").textContent,
            msg: q(".msg").textContent,
            button: shown ? q("button.buy").textContent : null,
            enabled: shown && q("button.buy").getAttribute("aria-disabled") !== "true",
            cancel: q("button.cancel").hidden ? null : q("button.cancel").textContent,
            busy: li.getAttribute("aria-busy"),
        };
    }, id);
}

function fits(got, want) {
    return Object.entries(want).every(([k, v]) =>
        (v instanceof RegExp ? v.test(String(got[k])) : got[k] === v));
}

// Waits until card `id` shows what `want` says (strings exact, regexps
// matched), then checks Playwright sees the Buy button the same way.
async function expectCard(id, want, timeout = 5000) {
    const deadline = Date.now() + timeout;
    let got;
    for (;;) {
        got = await cardInfo(id);
        if (got && fits(got, want)) break;
        if (Date.now() > deadline) {
            assert.fail(`course ${id}: wanted ${inspect(want)}\n got ${inspect(got)}`);
        }
        await sleep(40);
    }
    if ("enabled" in want && want.button !== null) {
        assert.equal(await card(id).locator("button.buy").isEnabled(), want.enabled,
            `course ${id}: Playwright sees the button ${want.enabled ? "enabled" : "disabled"}`);
    }
    return got;
}

async function lang(l) {
    const now = await page.evaluate(() => document.documentElement.lang);
    if ((l === "en") !== now.startsWith("en")) await page.click("#lang");
}

// Checks a card in Chinese, then in English, leaves the page in Chinese.
// Screenshots: in Chinese at 360 px, in English at 1280 px.
async function bothLanguages(id, zh, en, shot) {
    await lang("zh");
    await expectCard(id, zh);
    if (shot) await card(id).screenshot({ path: `${shots}/${shot}-360.png` });
    try {
        await lang("en");
        await expectCard(id, { ...zh, ...en });
        if (shot) {
            await page.setViewportSize({ width: 1280, height: 900 });
            await card(id).screenshot({ path: `${shots}/${shot}-1280.png` });
        }
    } finally {
        await page.setViewportSize({ width: 360, height: 800 });
        await lang("zh");
    }
}

// Holds the requests matching `url` until released: { seen, release(fn) }.
async function hold(url) {
    const held = [];
    let seen;
    const first = new Promise((r) => { seen = r; });
    await page.route(url, (route) => { held.push(route); seen(route); });
    return {
        first,
        // (Unrouting first would let Playwright continue the held ones.)
        async release(how = (route) => route.continue()) {
            for (const route of held.splice(0)) await how(route);
            await page.unroute(url);
        },
    };
}

function answerWith(status, body, headers = {}) {
    return (route) => route.fulfill({
        status, headers: { "Content-Type": "application/json", ...headers },
        body: JSON.stringify(body),
    });
}

test("the list shows the demo courses and this test's, with their seats", async () => {
    await page.goto(base);
    await card(C.late).waitFor();
    for (const id of [1, 2, 3, 4, 5, 6]) await card(id).waitFor();
    assert.match(await card(6).locator(".count").textContent(), /\/ 200$/);
    assert.match(await page.locator("#clock").textContent(), /^服务器时间 .*GMT\+8$/);
});

test("without a student number the Buy buttons say why they wait, and the field validates", async () => {
    await expectCard(C.open, { state: "open", button: "先填学号", enabled: false });
    assert.equal(await page.locator("#user-why").textContent(), "填写学号后，抢购按钮才会亮起。");
    assert.equal(await page.locator("#orders-note").textContent(), "填写学号后，这里显示你的订单。");
    // The button is not dead: a click (or Enter) leads to the field.
    await card(C.open).locator("button.buy").click({ force: true });
    await expectCard(C.open, { msg: "先在上面填写学号，再抢购。" });
    assert.equal(await page.evaluate(() => document.activeElement.id), "user-id");

    const input = page.locator("#user-id");
    const cases = [
        ["20a3", "学号只能包含数字。", "A student number has digits only."],
        ["0123456", "学号不以 0 开头。", "A student number does not start with 0."],
        ["123", "学号至少 4 位。", "A student number has at least 4 digits."],
        ["12345678901234567", "学号最多 16 位。", "A student number has at most 16 digits."],
        ["9007199254740992", "学号最多 16 位。", "A student number has at most 16 digits."],
    ];
    for (const [value, zh, en] of cases) {
        await input.fill(value);
        await input.blur();
        assert.equal(await page.locator("#user-error").textContent(), zh, value);
        assert.equal(await input.getAttribute("aria-invalid"), "true", value);
        await expectCard(C.open, { button: "先填学号", enabled: false });
        await lang("en");
        assert.equal(await page.locator("#user-error").textContent(), en, value);
        await expectCard(C.open, { button: "Enter student no.", enabled: false });
        await lang("zh");
    }
    // Too short is said once the student is done typing, not at the first digit.
    await input.fill("12");
    assert.equal(await page.locator("#user-error").textContent(), "");
    // Full-width digits from a Chinese input method are digits.
    await input.fill("２０２３０１");
    assert.equal(await page.locator("#user-why").textContent(), "将以学号 202301 抢购。");
    await input.fill(user);
    await input.blur();
    assert.equal(await page.locator("#user-error").textContent(), "");
    assert.equal(await input.getAttribute("aria-invalid"), "false");
    await expectCard(C.open, { button: "抢购", enabled: true });
    await lang("en");
    assert.equal(await page.locator("#user-why").textContent(), `Buying as student ${user}.`);
    await expectCard(C.open, { button: "Buy", enabled: true });
    await lang("zh");
    await page.waitForFunction(() => document.getElementById("orders-note").textContent === "还没有订单。");
});

test("a click 1 s before the start is sent at the start: the server took it 0-50 ms after", async (t) => {
    const startsAt = Date.now() + 3300;
    const iso = new Date(startsAt).toISOString();
    addCourse(C.opening, 5, iso, "+1h");
    addCourse(C.watched, 5, iso, "+1h");
    await page.reload();
    const loadedAt = Date.now();
    t.diagnostic(`the sale starts ${startsAt - loadedAt} ms after the page loaded`);

    const upcoming = {
        state: "upcoming", badge: "未开始", button: "开始时抢购", enabled: true,
        when: /^开始时间 \d{4}年\d{1,2}月\d{1,2}日周. \d\d:\d\d:\d\d GMT\+8$/,
        detail: /^距开始 00:00:0[1-4]$/,
    };
    await expectCard(C.opening, upcoming);
    await expectCard(C.watched, upcoming);
    // The moment the watched card opens, by the device's clock (the same
    // machine's clock as the server's here).
    await page.evaluate((id) => {
        const li = document.querySelector(`li.course[data-course-id="${id}"]`);
        new MutationObserver(() => {
            if (li.dataset.state === "open" && !window.openedAt) window.openedAt = Date.now();
        }).observe(li, { attributes: true, attributeFilter: ["data-state"] });
    }, C.watched);

    await sleep(startsAt - 1000 - Date.now());
    await card(C.opening).locator("button.buy").click();
    const clickedAt = Date.now();
    await expectCard(C.opening, {
        state: "upcoming", badge: "已预约", button: "已预约", enabled: false, cancel: "取消预约",
        msg: "已预约：开始的那一刻自动提交，请保持页面打开。",
    });
    assert.ok(startsAt - clickedAt > 500, `clicked ${startsAt - clickedAt} ms before the start`);
    assert.equal(traffic.posts.get(C.opening) || 0, 0, "nothing sent before the start");

    await expectCard(C.opening, { state: "yours", button: null }, 10000);
    const ts = Number(redis("HGET", `seckill:{c${C.opening}}:u:${user}`, "ts"));
    const late = ts - startsAt;
    t.diagnostic(`the server took the purchase ${late} ms after the start`);
    assert.ok(late >= 0 && late <= 50, `taken ${late} ms after the start (0 to 50)`);
    assert.equal(traffic.posts.get(C.opening), 1, "one purchase for one click");

    await expectCard(C.watched, { state: "open", button: "抢购", enabled: true });
    const opened = await page.evaluate(() => window.openedAt) - startsAt;
    t.diagnostic(`the watched card opened ${opened} ms after the start`);
    assert.ok(opened >= 0 && opened <= 50, `opened ${opened} ms after the start (0 to 50)`);
    assert.equal(traffic.posts.get(C.watched) || 0, 0, "an unclicked card sends nothing");
});

test("each settled card state, in Chinese and in English", async () => {
    await bothLanguages(C.later, {
        state: "upcoming", badge: "未开始", button: "开始时抢购", enabled: true,
        when: /^开始时间 \d{4}年\d{1,2}月\d{1,2}日周. \d\d:\d\d:\d\d GMT\+8$/,
        detail: /^距开始 1 天 23:\d\d:\d\d$/,
    }, {
        badge: "Not started", button: "Buy at start",
        when: /^Starts \w{3}, \d{1,2} \w{3} \d{4}, \d\d:\d\d:\d\d GMT\+8$/,
        detail: /^Starts in 1 day 23:\d\d:\d\d$/,
    }, "upcoming");
    await bothLanguages(C.open, {
        state: "open", badge: "抢购中", button: "抢购", enabled: true, count: "剩余 5 / 5",
        when: /^截止 .* GMT\+8$/,
    }, { badge: "On sale", button: "Buy", count: "5 of 5 seats left", when: /^Until .* GMT\+8$/ }, "open");
    await bothLanguages(C.soldout, {
        state: "soldout", badge: "已售罄", button: "已售罄", enabled: false, count: "剩余 0 / 1",
        detail: "座位已全部售出。",
    }, { badge: "Sold out", button: "Sold out", count: "0 of 1 seats left", detail: "Every seat is taken." },
    "soldout");
    await bothLanguages(C.ended, {
        state: "ended", badge: "已结束", button: "已结束", enabled: false,
        when: /^已于 .* GMT\+8 结束$/,
    }, { badge: "Ended", button: "Ended", when: /^Ended .* GMT\+8$/ }, "ended");
    await bothLanguages(C.opening, {
        state: "yours", badge: "已抢到", button: null, detail: /^你的订单 \d+ · 已确认$/,
    }, { badge: "Yours", detail: /^Your order \d+ · confirmed$/ }, "yours");
});

test("a click before the start queues the purchase, and it can be cancelled", async () => {
    await card(C.later).locator("button.buy").click();
    await bothLanguages(C.later, {
        state: "upcoming", badge: "已预约", button: "已预约", enabled: false, cancel: "取消预约",
        msg: "已预约：开始的那一刻自动提交，请保持页面打开。",
    }, {
        badge: "Queued", button: "Queued", cancel: "Cancel",
        msg: "Queued: sent the moment the sale opens; keep this page open.",
    }, "armed");
    await card(C.later).locator("button.cancel").click();
    await expectCard(C.later, { badge: "未开始", button: "开始时抢购", enabled: true, cancel: null,
        msg: "已取消预约。" });
    assert.equal(await page.evaluate(() => document.activeElement.className), "buy");
});

test("buying with the keyboard: pending, then confirmed, and no Buy button left", async () => {
    const orders = await hold(`**/api/orders/${C.open}/**`);
    await page.locator("#user-id").focus();
    let tabs = 0;
    while (await page.evaluate((id) => document.activeElement.closest(`li[data-course-id="${id}"]`) === null, C.open)) {
        await page.keyboard.press("Tab");
        assert.ok(++tabs < 80, "the Buy button is reachable with Tab");
    }
    await page.keyboard.press("Enter");
    await expectCard(C.open, { state: "yours", button: null });
    // The keyboard stays on the card whose button went away.
    assert.equal(await page.evaluate(() => document.activeElement.dataset.courseId), String(C.open));
    await bothLanguages(C.open, {
        state: "yours", badge: "已抢到", button: null, detail: /^你的订单 \d+ · 处理中$/,
        msg: /^抢到了！订单 \d+ 正在处理中…$/,
    }, { badge: "Yours", detail: /^Your order \d+ · processing$/, msg: /^Got it! Order \d+ is being processed…$/ },
    "pending");
    await orders.release();
    await bothLanguages(C.open, {
        state: "yours", detail: /^你的订单 \d+ · 已确认$/, msg: /^购买成功，订单 \d+ 已确认。$/,
        count: "剩余 4 / 5",
    }, { detail: /^Your order \d+ · confirmed$/, msg: /^Done: order \d+ is confirmed.$/, count: "4 of 5 seats left" });
    await page.locator(`#orders li[data-course-id="${C.open}"][data-status="success"]`).waitFor();
    assert.equal(traffic.posts.get(C.open), 1, "one purchase for one key press");
});

test("buying: a spinner and a disabled button; a slow server is said to be slow; a 503 waits Retry-After", async () => {
    const purchase = await hold(`**/api/seckill/${C.refused}/**`);
    await card(C.refused).locator("button.buy").click();
    await expectCard(C.refused, { state: "buying", badge: "提交中", button: "抢购中", enabled: false,
        busy: "true", detail: "正在提交…" });
    await card(C.refused).locator("button.buy").click({ force: true });
    await purchase.first;
    await bothLanguages(C.refused, {
        state: "buying", badge: "提交中", button: "抢购中", enabled: false, detail: /^服务器还在确认，已等待 [2-4] 秒…$/,
    }, { badge: "Sending", button: "Buying", detail: /^Still waiting for the server's confirmation \([2-4] s\)…$/ },
    "buying");
    assert.equal(traffic.posts.get(C.refused), 1, "a second click while buying sends nothing");
    await purchase.release(answerWith(503, { status: "unavailable", error: "service unavailable, retry later" },
        { "Retry-After": "3" }));
    await bothLanguages(C.refused, {
        state: "unavailable", badge: "暂不可用", button: "抢购", enabled: false,
        detail: /^服务繁忙，[1-3] 秒后可以再试。$/,
        msg: "系统繁忙，这次没有买到，座位没有被占用；3 秒后可以再试。",
    }, {
        badge: "Unavailable", button: "Buy", detail: /^Service busy; try again in [1-3] s\.$/,
        msg: "The system is busy: no seat was taken this time; try again in 3 s.",
    }, "wait");
    await expectCard(C.refused, { state: "open", button: "抢购", enabled: true }, 5000);
});

// Each refusal the purchase can meet, as nginx and the module send it.
const REFUSALS = [
    {
        why: "secure_link (403 forbidden)", status: 403,
        body: { status: "forbidden", error: "access denied" },
        zh: { state: "refused", badge: "被拒绝", button: "再试一次", enabled: true,
            msg: "服务器拒绝了这次购买：需要带签名的购买链接。请从学校的选课系统进入抢购页面。" },
        en: { badge: "Refused", button: "Try again",
            msg: "The server refused this purchase: it needs a signed purchase link. Open the sale from your school's course system." },
    },
    {
        why: "another 403", status: 403, body: { status: "blocked", error: "not on the list" },
        zh: { state: "refused", msg: "服务器拒绝了这次购买（not on the list）。" },
        en: { msg: "The server refused this purchase (not on the list)." },
    },
    {
        why: "403 not_started", status: 403, body: { status: "not_started", starts_at: Date.UTC(2030, 0, 1, 2) },
        stale: true,
        zh: { state: "upcoming", button: "开始时抢购", enabled: true,
            msg: "还没开始：开始时间 2030年1月1日周二 10:00:00 GMT+8。" },
        en: { button: "Buy at start", msg: "Not open yet: the sale starts Tue, 1 Jan 2030, 10:00:00 GMT+8." },
    },
    {
        why: "403 ended", status: 403, body: { status: "ended", ends_at: Date.UTC(2024, 0, 1, 2) },
        stale: true,
        zh: { state: "ended", button: "已结束", enabled: false,
            msg: "已经结束：截止时间 2024年1月1日周一 10:00:00 GMT+8。" },
        en: { button: "Ended", msg: "The sale is over: it ended Mon, 1 Jan 2024, 10:00:00 GMT+8." },
    },
    {
        why: "429 from limit_req", status: 429, headers: { "Retry-After": "3" },
        body: { status: "too_many_requests", error: "too many requests, retry later" },
        zh: { state: "unavailable", button: "抢购", enabled: false, detail: /^点得太快了，[1-3] 秒后可以再试。$/,
            msg: "点得太快了，请 3 秒后再试。" },
        en: { button: "Buy", detail: /^Too many attempts; try again in [1-3] s\.$/,
            msg: "Too many attempts; try again in 3 s." },
    },
    {
        why: "404 unknown_course", status: 404, body: { status: "unknown_course" },
        zh: { state: "refused", msg: "没有这门课（可能已经下架）。" },
        en: { msg: "There is no such course (it may have been taken off sale)." },
    },
    {
        why: "400 bad_request", status: 400, body: { status: "bad_request", error: "malformed user id" },
        zh: { state: "refused", msg: "请求被拒绝：malformed user id" },
        en: { msg: "The request was refused: malformed user id" },
    },
    {
        why: "500", status: 500, body: { status: "internal_error", error: "internal server error" },
        zh: { state: "open", button: "抢购", enabled: true, msg: "服务器出了问题（HTTP 500），这次没有买到，可以再试一次。" },
        en: { button: "Buy", msg: "The server failed (HTTP 500); nothing was bought, try again." },
    },
];

test("every refusal is said in words, in both languages", async () => {
    for (const r of REFUSALS) {
        await expectCard(C.refused, { state: /^(open|refused)$/, enabled: true }, 6000);
        // A window the server answered with holds until the next list; the
        // list would contradict the played answer, so it waits meanwhile.
        const list = r.stale && await hold("**/api/courses");
        if (list) await list.first;
        await page.route(`**/api/seckill/${C.refused}/**`, answerWith(r.status, r.body, r.headers));
        await card(C.refused).locator("button.buy").click();
        try {
            await bothLanguages(C.refused, r.zh, r.en, r.body.status === "forbidden" && "refused");
        } finally {
            await page.unroute(`**/api/seckill/${C.refused}/**`);
            if (list) await list.release();
        }
    }
    await expectCard(C.refused, { state: "open", enabled: true }, 6000);
});

test("a seat taken while the list is stale: the 410 turns the card sold out at once", async () => {
    await expectCard(C.late, { state: "open", count: "剩余 1 / 1", enabled: true });
    const list = await hold("**/api/courses");
    await list.first;                           // the page's next list waits
    assert.equal(await buyAs(C.late, otherUser), 200);
    await card(C.late).locator("button.buy").click();
    await bothLanguages(C.late, {
        state: "soldout", badge: "已售罄", button: "已售罄", enabled: false, count: "剩余 0 / 1",
        msg: "来晚了，这门课已经售罄。",
    }, { badge: "Sold out", button: "Sold out", count: "0 of 1 seats left", msg: "Too late: this course is sold out." });
    await list.release();
    await sleep(1600);
    await expectCard(C.late, { state: "soldout", count: "剩余 0 / 1" });
});

test("a seat the student bought elsewhere: the 409 shows that order, not a second purchase", async () => {
    await expectCard(C.elsewhere, { state: "open", button: "抢购", enabled: true });
    assert.equal(await buyAs(C.elsewhere, user), 200, "bought in another tab");
    await card(C.elsewhere).locator("button.buy").click();
    await expectCard(C.elsewhere, { state: "yours", button: null,
        msg: /^你已经有这门课的订单（\d+），每门课每人只能买一个座位。$/ });
    await bothLanguages(C.elsewhere, {
        state: "yours", detail: /^你的订单 \d+ · 已确认$/,
        msg: /^你已经有这门课的订单（\d+），每门课每人只能买一个座位。$/,
    }, { detail: /^Your order \d+ · confirmed$/,
        msg: /^You already have an order for this course \(\d+\); one seat per student\.$/ });
});

test("a purchase lost in the network: the page asks the server what became of it", async () => {
    await page.route(`**/api/seckill/${C.refused}/**`, (route) => route.abort("connectionreset"));
    try {
        await card(C.refused).locator("button.buy").click();
        await bothLanguages(C.refused, {
            state: "open", button: "抢购", enabled: true, msg: "网络出错，这次没有买到，可以再试一次。",
        }, { button: "Buy", msg: "Network error: nothing was bought, try again." });
    } finally {
        await page.unroute(`**/api/seckill/${C.refused}/**`);
    }
});

test("Redis stopped and started under the open page: it says so, and recovers by itself", async () => {
    deploy("redis", "stop");
    try {
        await page.locator("#notice").waitFor({ state: "visible", timeout: 5000 });
        assert.match(await page.locator("#notice").textContent(), /^服务繁忙，课程数据可能已过时；\d 秒后重试…$/);
        await bothLanguages(C.refused, {
            state: "unavailable", badge: "暂不可用", button: "抢购", enabled: false,
            detail: /^服务繁忙，\d 秒后重试…$/, count: "剩余 5 / 5",
        }, { badge: "Unavailable", button: "Buy", detail: /^Service busy, retrying in \d s…$/,
            count: "5 of 5 seats left" }, "unavailable");
        assert.deepEqual(await card(C.refused).locator(".seats").evaluate((n) => [
            getComputedStyle(n.querySelector(".count")).fontStyle,
            getComputedStyle(n.querySelector(".bar > div")).backgroundColor,
        ]), ["italic", "rgb(154, 160, 171)"], "the stale counts are greyed");
        // An order the page knows stays true.
        await expectCard(C.open, { state: "yours", detail: /^你的订单 \d+ · 已确认$/ });
        await lang("en");
        assert.match(await page.locator("#notice").textContent(),
            /^Service busy; the counts may be out of date\. Retrying in \d s…$/);
        await page.setViewportSize({ width: 1280, height: 900 });
        await page.screenshot({ path: `${shots}/unavailable-page-1280.png`, fullPage: true });
        await page.setViewportSize({ width: 360, height: 800 });
        await lang("zh");
        await page.screenshot({ path: `${shots}/unavailable-page-360.png`, fullPage: true });

        // A page opened while Redis is down does not pretend.
        const fresh = await context.newPage();
        await fresh.goto(base);
        await fresh.locator("#notice").waitFor({ state: "visible", timeout: 5000 });
        assert.equal(await fresh.locator("#clock").textContent(), "尚未与服务器对时");
        assert.equal(await fresh.locator("#orders-note").textContent(), "暂时无法查询订单，稍后自动重试。");
        assert.equal(await fresh.locator("li.course").count(), 0);
        await fresh.close();
    } finally {
        deploy("redis", "start");
    }
    await page.locator("#notice").waitFor({ state: "hidden", timeout: 20000 });
    await expectCard(C.refused, { state: "open", button: "抢购", enabled: true }, 5000);
    await expectCard(C.open, { state: "yours", detail: /^你的订单 \d+ · 已确认$/ });
    assert.match(await page.locator("#clock").textContent(), /^服务器时间 /);
});

test("one purchase per click, and never two course lists at a time", async () => {
    assert.equal(traffic.posts.get(C.opening), 1);
    assert.equal(traffic.posts.get(C.open), 1);
    assert.equal(traffic.posts.get(C.late), 1);
    assert.equal(traffic.posts.get(C.watched) || 0, 0);
    assert.equal(traffic.listsMax, 1, "at most one /api/courses in flight");
});

test("the README's screenshot, once the states have settled", async () => {
    await page.route(`**/api/seckill/${C.refused}/**`, answerWith(403, REFUSALS[0].body));
    await card(C.refused).locator("button.buy").click();
    await expectCard(C.refused, { state: "refused" });
    await page.unroute(`**/api/seckill/${C.refused}/**`);
    await card(C.later).locator("button.buy").click();
    await expectCard(C.later, { badge: "已预约" });
    await lang("en");
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: `${shots}/page-1280.png`, fullPage: true });
    await page.setViewportSize({ width: 360, height: 800 });
    await page.screenshot({ path: `${shots}/page-360.png`, fullPage: true });
    await lang("zh");
});

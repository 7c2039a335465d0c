// The page in real Chromium (Debian's, headless) against the test stack:
// the course list, a purchase followed to success, a duplicate, and a
// sold-out course's button. Run by t/run.sh with `node --test`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";

const base = process.env.SECKILL_PAGE_URL || "http://127.0.0.1:18080/";
const redisPort = process.env.SECKILL_REDIS_PORT || "16379";
const shot = `${process.env.SECKILL_RUN || "/tmp"}/page.png`;
// A user id no other test uses, different on every run.
const user = String(7_000_000_000 + (Date.now() % 1_000_000_000));

function redis(...args) {
    return execFileSync("redis-cli", ["-p", redisPort, ...args], { encoding: "utf8" }).trim();
}

let browser, page;
let savedRemaining;

before(async () => {
    browser = await chromium.launch({
        executablePath: "/usr/bin/chromium",
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await browser.newPage({ viewport: { width: 420, height: 1400 } });
    // Course 5 sold out for the last test; its real value is put back after.
    savedRemaining = redis("HGET", "seckill:{c5}", "remaining");
    redis("HSET", "seckill:{c5}", "remaining", "0");
});

after(async () => {
    redis("HSET", "seckill:{c5}", "remaining", savedRemaining);
    await browser?.close();
});

const card = (id) => page.locator(`li.course[data-course-id="${id}"]`);

test("the list shows the six courses with their seats", async () => {
    await page.goto(base);
    await page.locator("li.course").nth(5).waitFor();
    assert.equal(await page.locator("li.course").count(), 6);
    const text = await card(6).locator(".count").textContent();
    assert.match(text, /\/ 200/);
});

test("buying a seat shows pending, then success, and the seat count drops", async () => {
    const before = Number(redis("HGET", "seckill:{c1}", "remaining"));
    await page.fill("#user-id", user);
    await card(1).locator("button.buy").click();
    await card(1).locator(".msg.ok").waitFor();
    assert.match(await card(1).locator(".msg").textContent(), /订单 \d+ 正在处理中|处理中/);
    await page.locator(`#orders li[data-course-id="1"][data-status="success"]`)
        .waitFor({ timeout: 15000 });
    assert.match(await card(1).locator(".msg").textContent(), /购买成功/);
    await page.waitForFunction(
        (n) => document.querySelector('li.course[data-course-id="1"] .count')
            .textContent.includes(`剩余 ${n} /`), before - 1, { timeout: 5000 });
});

test("buying again shows the duplicate with the existing order", async () => {
    await card(1).locator("button.buy").click();
    await page.waitForFunction(() => /已经有这门课的订单/.test(
        document.querySelector('li.course[data-course-id="1"] .msg').textContent));
});

test("a sold-out course's button is disabled", async () => {
    await page.waitForFunction(() => document.querySelector(
        'li.course[data-course-id="5"] button.buy').disabled, null, { timeout: 5000 });
    assert.match(await card(5).locator(".state").textContent(), /已售罄/);
});

test("the language toggle switches to English", async () => {
    await page.click("#lang");
    assert.equal(await page.locator("h1").textContent(), "Course Seckill");
    assert.match(await card(1).locator("button.buy").textContent(), /Buy/);
    await page.screenshot({ path: shot, fullPage: true });
    await page.click("#lang");
});

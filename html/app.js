// The course list: seats left and each course's sale state, refreshed while
// the page is visible. Times come from the server's clock (`now` in
// /api/courses), so a wrong clock on the student's device changes nothing.
"use strict";

const REFRESH_MS = 1500;
let clockOffset = 0;     // server time - local time, in ms

function serverNow() {
    return Date.now() + clockOffset;
}

function formatDuration(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    const d = Math.floor(s / 86400);
    const hms = [Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60]
        .map((n) => String(n).padStart(2, "0")).join(":");
    return d > 0 ? `${d}d ${hms}` : hms;
}

function saleState(course, now) {
    if (now < course.starts_at) {
        return { open: false, text: `距开始 Starts in ${formatDuration(course.starts_at - now)}` };
    }
    if (now >= course.ends_at) {
        return { open: false, text: "已结束 Ended" };
    }
    if (course.remaining <= 0) {
        return { open: false, text: "已售罄 Sold out" };
    }
    return { open: true, text: "抢购中 On sale" };
}

function renderCourse(course, now) {
    const li = document.createElement("li");
    li.className = "course";
    li.dataset.courseId = course.id;

    const h2 = document.createElement("h2");
    h2.textContent = course.name;

    const seats = document.createElement("div");
    seats.className = "seats";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", String(course.total));
    bar.setAttribute("aria-valuenow", String(course.remaining));
    bar.setAttribute("aria-label", "剩余座位 Seats left");
    const fill = document.createElement("div");
    fill.style.width = course.total > 0
        ? `${(100 * course.remaining) / course.total}%` : "0";
    bar.append(fill);
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = `${course.remaining} / ${course.total}`;
    seats.append(bar, count);

    const state = saleState(course, now);
    const p = document.createElement("p");
    p.className = state.open ? "state open" : "state";
    p.textContent = state.text;

    li.append(h2, seats, p);
    return li;
}

function render(data) {
    const now = serverNow();
    const list = document.getElementById("courses");
    list.replaceChildren(...data.courses.map((c) => renderCourse(c, now)));
    document.getElementById("clock").textContent =
        `服务器时间 Server time ${new Date(now).toLocaleString()}`;
}

let last = null;

// One request at a time: the next refresh is scheduled only when this one
// has finished, so a slow server never sees requests pile up.
async function refresh() {
    const notice = document.getElementById("notice");
    try {
        const res = await fetch("/api/courses", { cache: "no-store" });
        if (!res.ok) {
            throw new Error(`HTTP ${res.status}`);
        }
        const data = await res.json();
        clockOffset = data.now - Date.now();
        last = data;
        notice.textContent = "";
        render(data);
    } catch (err) {
        notice.textContent = `暂时无法获取课程 Cannot load the courses right now (${err.message}); retrying…`;
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

// Countdowns move every second even between two fetches.
setInterval(() => { if (last) render(last); }, 1000);
refresh();

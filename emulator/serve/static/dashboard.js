// bda-emulator dashboard: vanilla JavaScript, no library, nothing loaded from elsewhere.
// Data comes from the admin API under /_emulator/ with the admin token (if the emulator has
// one) from this tab's sessionStorage. Journal text is always set as text, never as HTML; the
// only HTML inserted is the coverage panel the emulator renders itself.
"use strict";

const BASE = "/_emulator/";
const TOKEN_KEY = "bda-emulator-token";
const REQUEST_EVERY_MS = 500;   // the table follows the journal within a second
const PANELS_EVERY_MS = 1500;   // scenarios, clock, coverage, the selected task
const HIDDEN_EVERY_MS = 3000;   // a tab in the background polls less
const MAX_ROWS = 500;            // rows the table keeps
const POLL_ROWS = 100;           // rows one poll brings at most: more since the last poll
                                 // (a flood) and the table restarts from the newest

const $ = (id) => document.getElementById(id);
const state = {
  unlocked: false, generation: 0, paused: false, after: "", rows: new Map(), selected: null,
  blobs: [], taskTimer: null, seen: {code: new Set(), action: new Set(), account: new Set()},
  coverage: "", scenarios: "", bundled: "",
};

class Locked extends Error {}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fill(node, ...children) {  // replaceChildren, with lists flattened and gaps skipped
  node.replaceChildren(...children.flat(2).filter((c) => c !== null && c !== undefined && c !== false));
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  for (const child of children) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = Object.assign({}, options.headers || {});
  if (token) headers["X-Emulator-Token"] = token;
  const response = await fetch(BASE + path, Object.assign({}, options, {headers, cache: "no-store"}));
  if (response.status === 401) {
    lock(token ? "That token was refused." : "");
    throw new Locked();
  }
  return response;
}

async function apiJson(path, options) {
  const response = await api(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function post(path, body) {
  return apiJson(path, {method: "POST", headers: {"Content-Type": "application/json"},
                        body: JSON.stringify(body)});
}

function say(text) {  // the connection's state (a live region): changes only, never every poll
  if ($("status").textContent !== text) $("status").textContent = text;
}

function notify(text) { $("notice").textContent = text; }  // what a button did

// -- the token --------------------------------------------------------------------------------

function lock(message) {
  state.unlocked = false;
  sessionStorage.removeItem(TOKEN_KEY);
  clearBoard();
  $("board").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  say("Locked: this emulator needs its admin token.");
  $("token").focus();
}

function clearBoard() {
  $("req-body").replaceChildren();
  $("detail-body").replaceChildren();
  $("detail-h").textContent = "Request";
  $("detail-empty").hidden = false;
  $("scen-list").replaceChildren();
  $("cov-body").replaceChildren();
  $("drills").replaceChildren();
  $("error-pick").replaceChildren();
  state.rows.clear();
  state.after = "";
  state.selected = null;
  state.coverage = state.scenarios = state.bundled = "";
  for (const set of Object.values(state.seen)) set.clear();
  for (const id of ["f-code", "f-action", "f-account"]) $(id).replaceChildren(el("option", {value: "", text: "all"}));
  revokeBlobs();
}

async function unlock() {
  try {
    await apiJson("clock");
  } catch (error) {
    if (error instanceof Locked) return;
    say(`Cannot reach the emulator: ${error.message}. Retrying…`);
    setTimeout(unlock, 2000);
    return;
  }
  if (state.unlocked) return;
  state.unlocked = true;
  state.generation += 1;
  $("login").hidden = true;
  $("board").hidden = false;
  say("Live.");
  pollRequests(state.generation);
  pollPanels(state.generation);
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  $("token").value = "";
  $("login-error").textContent = "";
  unlock();
});

// -- live requests ----------------------------------------------------------------------------

function later(fn, every) {
  setTimeout(fn, document.hidden ? Math.max(every, HIDDEN_EVERY_MS) : every);
}

async function pollRequests(generation) {
  if (!state.unlocked || generation !== state.generation) return;
  if (!state.paused) {
    try {
      const query = new URLSearchParams({limit: String(POLL_ROWS)});
      if (state.after) query.set("after", state.after);
      const data = await apiJson(`dashboard/requests?${query}`);
      const flood = data.restart && state.after !== "" && data.requests.length === POLL_ROWS;
      if (data.restart) resetTable();
      addRows(data.requests);
      say(flood ? `Live — over ${POLL_ROWS} requests per update: showing the newest.` : "Live.");
      $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (error instanceof Locked) return;
      say(`Cannot reach the emulator: ${error.message}. Retrying…`);
    }
  }
  later(() => pollRequests(generation), REQUEST_EVERY_MS);
}

function resetTable() {
  $("req-body").replaceChildren();
  state.rows.clear();
}

const MARKS = {success: "✓", client: "✗", service: "!", transport: "⚡"};

function clock(epoch) {
  const date = new Date(epoch * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function iso(epoch) {
  const date = new Date(epoch * 1000);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

function short(text, n) {
  if (!text) return "";
  return text.length > n + 1 ? `${text.slice(0, n)}…` : text;
}

function addRows(entries) {
  const body = $("req-body");
  for (const entry of entries) {
    state.after = entry.request_id;
    if (state.rows.has(entry.request_id)) continue;
    state.rows.set(entry.request_id, entry);
    note("code", entry.code, "f-code");
    note("action", entry.action, "f-action");
    note("account", entry.secret_id, "f-account");
    const kind = entry.class === "success" ? "success" : `${entry.class} ${entry.class === "transport" ? "fault" : "error"}`;
    const row = el("tr", {class: `k-${entry.class}`, dataset: {rid: entry.request_id}},
      el("td", {}, el("time", {datetime: iso(entry.time), text: clock(entry.time)})),
      el("td", {}, el("button", {type: "button", class: "rid", title: entry.request_id,
                                 "aria-label": `Show request ${entry.request_id}`,
                                 text: entry.request_id.slice(0, 8)})),
      el("td", {}, el("span", {class: `code c-${entry.class}`},
                      el("span", {"aria-hidden": "true", text: `${MARKS[entry.class] || ""} `}),
                      entry.code, el("span", {class: "vh", text: ` (${kind})`}))),
      el("td", {class: "num", text: entry.latency_ms.toFixed(1)}),
      el("td", {class: "rules-cell", text: (entry.rules || []).join(", ")}),
      el("td", {text: entry.action || "—"}),
      el("td", {title: entry.secret_id || "", text: short(entry.secret_id, 12) || "—"}),
      el("td", {text: entry.region || "—"}),
      el("td", {text: entry.signature_method || "—"}));
    if (state.selected === entry.request_id) row.setAttribute("aria-current", "true");
    row.hidden = !visible(entry);
    body.prepend(row);
  }
  while (body.rows.length > MAX_ROWS) {
    const last = body.rows[body.rows.length - 1];
    state.rows.delete(last.dataset.rid);
    last.remove();
  }
  counts();
}

function note(kind, value, selectId) {
  if (!value || state.seen[kind].has(value)) return;
  state.seen[kind].add(value);
  const select = $(selectId);
  const options = [...state.seen[kind]].sort();
  const chosen = select.value;
  select.replaceChildren(el("option", {value: "", text: "all"}),
                         ...options.map((v) => el("option", {value: v, text: v})));
  select.value = chosen;
}

function visible(entry) {
  const code = $("f-code").value, action = $("f-action").value, account = $("f-account").value;
  return (!code || entry.code === code) && (!action || entry.action === action)
    && (!account || entry.secret_id === account);
}

function applyFilters() {
  for (const row of $("req-body").rows) row.hidden = !visible(state.rows.get(row.dataset.rid));
  counts();
}

function counts() {
  const rows = [...$("req-body").rows];
  const shown = rows.filter((row) => !row.hidden).length;
  $("counts").textContent = shown === rows.length ? `${rows.length} requests` : `${shown} of ${rows.length} requests`;
  $("req-empty").hidden = rows.length > 0;
}

for (const id of ["f-code", "f-action", "f-account"]) $(id).addEventListener("change", applyFilters);

$("pause").addEventListener("click", () => {
  state.paused = !state.paused;
  $("pause").setAttribute("aria-pressed", String(state.paused));
  $("pause").textContent = state.paused ? "Resume" : "Pause";
  if (state.paused) say("Paused: the table is not updated.");
});

$("req-body").addEventListener("click", (event) => {
  const row = event.target.closest("tr");
  if (row && row.dataset.rid) select(row.dataset.rid, event.target.closest("button") !== null);
});

// -- one request ------------------------------------------------------------------------------

function revokeBlobs() {
  for (const url of state.blobs) URL.revokeObjectURL(url);
  state.blobs = [];
}

async function blobUrl(path) {
  const response = await api(path);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  state.blobs.push(url);
  return url;
}

function fact(name, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return [];
  return [el("dt", {text: name}), el("dd", {}, Array.isArray(value) ? value.join(", ") : String(value))];
}

async function select(rid, focusDetail) {
  const entry = state.rows.get(rid);
  if (!entry) return;
  state.selected = rid;
  for (const row of $("req-body").rows) {
    if (row.dataset.rid === rid) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }
  revokeBlobs();
  $("detail-empty").hidden = true;
  $("detail-h").textContent = `Request ${rid}`;
  const body = $("detail-body");
  const image = entry.image_width ? `${entry.image_width}×${entry.image_height}, ${(entry.image_bytes || 0).toLocaleString()} bytes` : null;
  fill(body,
    el("dl", {class: "facts"},
      fact("Time", `${iso(entry.time)} (emulator clock)`), fact("Action", entry.action),
      fact("Account", entry.secret_id), fact("Region", entry.region),
      fact("Method", `${entry.http_method} · ${entry.signature_method || "unsigned"}`),
      fact("Code", entry.code), fact("Latency", `${entry.latency_ms.toFixed(1)} ms`),
      fact("Rules applied", entry.rules), fact("Options", entry.options), fact("Image", image),
      fact("Image sha256", entry.image_sha256), fact("Task", entry.task_id),
      fact("Task state", entry.task_state)),
    entry.explain ? [el("h3", {text: "Why it was rejected"}), el("pre", {class: "explain", text: entry.explain})] : [],
    el("div", {id: "detail-pictures"}),
    el("div", {id: "detail-task"}));
  if (focusDetail) $("detail-h").focus();
  if (entry.pictures) await showPictures(rid);
  else if (entry.class !== "success") {
    $("detail-pictures").replaceChildren(el("p", {class: "empty", text: "A failed request keeps no pictures; its journal entry is above."}));
  }
  if (entry.task_id) await showTask(rid, entry.task_id);
}

async function showPictures(rid) {
  const box = $("detail-pictures");
  let view;
  try {
    view = await apiJson(`dashboard/requests/${rid}`);
  } catch (error) {
    if (!(error instanceof Locked)) box.replaceChildren(el("p", {class: "empty", text: `No pictures: ${error.message}`}));
    return;
  }
  if (state.selected !== rid) return;
  const figures = [];
  const pics = view.pictures || {};
  if (pics.input) {
    const url = await blobUrl(`dashboard/requests/${rid}/input`);
    const width = view.width || pics.input.width, height = view.height || pics.input.height;
    const overlay = svg("svg", {viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", "aria-hidden": "true"});
    const colours = ["#d81b60", "#1e88e5", "#f4511e", "#00897b", "#8e24aa", "#6d4c41"];
    (view.rects || []).forEach((rect, i) => {
      const colour = colours[i % colours.length];
      overlay.append(svg("rect", {x: rect.X, y: rect.Y, width: rect.Width, height: rect.Height, stroke: colour}));
      const label = svg("text", {x: rect.X + 4, y: rect.Y + 16 + 16 * (i % 3), fill: colour});
      label.textContent = rect.Label;
      overlay.append(label);
    });
    const rects = (view.rects || []).map((r) => `${r.Label} at ${r.X},${r.Y} ${r.Width}×${r.Height}`).join("; ");
    figures.push(el("figure", {},
      el("div", {class: "overlay"}, el("img", {src: url, id: "pic-input", alt: `Input picture${rects ? " with ImageRects: " + rects : ""}`}), overlay),
      el("figcaption", {text: `Input (thumbnail ${pics.input.width}×${pics.input.height})${(view.rects || []).length ? " with ImageRects" : ""}`})));
  }
  for (const [kind, title] of [["cutout", "Cut-out"], ["mask", "Mask"]]) {
    if (pics[kind]) {
      const url = await blobUrl(`dashboard/requests/${rid}/${kind}`);
      const how = pics[kind].verbatim ? "the reply's bytes" : `thumbnail ${pics[kind].width}×${pics[kind].height}`;
      figures.push(el("figure", {},
        el("img", {src: url, id: `pic-${kind}`, class: kind === "cutout" ? "checker" : null,
                   alt: kind === "cutout" ? "Cut-out over a checkerboard" : "Mask"}),
        el("figcaption", {text: `${title} (${how})`})));
    } else if (view.missing && view.missing[kind]) {
      figures.push(el("p", {class: "empty", text: `${title}: ${view.missing[kind]}`}));
    }
  }
  if (state.selected !== rid) return;
  fill(box,
    figures.length ? el("div", {class: "pictures"}, figures) : [],
    el("h3", {text: "Reply fields"}),
    el("pre", {class: "fields", id: "reply-fields", text: JSON.stringify(view.fields, null, 2)}));
}

async function showTask(rid, taskId) {
  clearTimeout(state.taskTimer);
  const box = $("detail-task");
  let tasks;
  try {
    tasks = (await apiJson("tasks")).tasks;
  } catch (error) {
    if (!(error instanceof Locked)) box.replaceChildren(el("p", {class: "empty", text: `Tasks: ${error.message}`}));
    return;
  }
  if (state.selected !== rid) return;
  const task = tasks.find((t) => t.task_id === taskId);
  if (!task) {
    box.replaceChildren(el("h3", {text: "Task"}), el("p", {class: "empty", text: `Task ${taskId} is no longer kept.`}));
    return;
  }
  const start = task.history.length ? task.history[0].at : task.created_at;
  const steps = task.history.map((step) => el("li", {},
    el("strong", {text: step.state}), ` +${(step.at - start).toFixed(1)} s `,
    el("time", {datetime: iso(step.at), text: clock(step.at)})));
  const parts = [el("h3", {text: `Task ${taskId}`}),
    el("ol", {class: "timeline", "aria-label": "State timeline"}, steps),
    el("p", {}, `Frames done: ${task.frames_done ?? 0}`, task.error ? ` · ErrorMsg: ${task.error}` : "")];
  const done = task.state === "FINISHED";
  const previous = $("task-video");
  if (done && task.has_result) {
    if (previous && previous.dataset.task === taskId) parts.push(previous);
    else {
      try {
        const result = await apiJson(`dashboard/tasks/${taskId}/result`);
        parts.push(el("video", {id: "task-video", controls: true, preload: "metadata", src: result.url,
                                dataset: {task: taskId}, "aria-label": `Result video of task ${taskId}`}));
      } catch (error) {
        if (error instanceof Locked) return;
        parts.push(el("p", {class: "empty", text: `Result video: ${error.message}`}));
      }
    }
  }
  if (state.selected !== rid) return;
  box.replaceChildren(...parts);
  if (!done) state.taskTimer = setTimeout(() => { if (state.selected === rid) showTask(rid, taskId); }, PANELS_EVERY_MS);
}

// -- scenarios, clock, coverage ---------------------------------------------------------------

async function pollPanels(generation) {
  if (!state.unlocked || generation !== state.generation) return;
  try {
    await Promise.all([refreshScenarios(), refreshClock(), refreshCoverage()]);
  } catch (error) {
    if (error instanceof Locked) return;
  }
  later(() => pollPanels(generation), PANELS_EVERY_MS);
}

function keepFocus(container, render) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.key : null;
  render();
  if (key) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

function effectText(rule) {
  const shown = rule.sequence !== undefined ? {sequence: rule.sequence} : {effect: rule.effect};
  return short(JSON.stringify(shown), 160);
}

async function refreshScenarios() {
  const data = await apiJson("scenarios");
  const text = JSON.stringify(data.scenarios);
  if (text !== state.scenarios) {
    state.scenarios = text;
    keepFocus($("scen-list"), () => fill($("scen-list"),
      data.scenarios.length ? [] : el("p", {class: "empty", text: "No scenario loaded: requests are answered normally."}),
      ...data.scenarios.map((s) => el("article", {class: "scenario"},
        el("header", {}, el("h3", {text: s.name}),
          el("button", {type: "button", dataset: {remove: s.name, key: `remove:${s.name}`},
                        "aria-label": `Remove scenario ${s.name}`, text: "Remove"})),
        s.description ? el("p", {text: s.description}) : [],
        el("p", {text: `${s.requests} requests seen since loaded`}),
        el("table", {class: "rules"},
          el("caption", {class: "vh", text: `Rules of ${s.name}`}),
          el("thead", {}, el("tr", {}, ["Rule", "Effect", "Matched", "Hits", "Remaining"].map((h) => el("th", {scope: "col", text: h})))),
          el("tbody", {}, s.rules.map((r) => el("tr", {},
            el("th", {scope: "row", text: r.name}), el("td", {class: "mono", text: effectText(r)}),
            el("td", {text: r.matched}), el("td", {text: r.hits}),
            el("td", {text: r.remaining === null ? "unlimited" : r.remaining})))))))));
  }
  const bundled = JSON.stringify(data.bundled);
  if (bundled !== state.bundled) {
    state.bundled = bundled;
    const drills = data.bundled.filter((n) => n.startsWith("drills/"));
    const errors = data.bundled.filter((n) => n.startsWith("errors/"));
    $("drills").replaceChildren(...drills.map((name) => el("button", {type: "button", dataset: {load: name}, text: name.slice(7), "aria-label": `Load ${name}`})));
    $("error-pick").replaceChildren(...errors.map((name) => el("option", {value: name, text: name.slice(7)})));
  }
}

async function act(fn) {
  $("scen-error").textContent = "";
  notify("");
  try {
    await fn();
    state.scenarios = "";
    await Promise.all([refreshScenarios(), refreshClock()]);
  } catch (error) {
    if (!(error instanceof Locked)) $("scen-error").textContent = error.message;
  }
}

async function load(name) {
  await act(async () => {
    const result = await post("dashboard/scenarios", {bundled: name});
    notify(`Scenario ${result.name} ${result.status === "created" ? "loaded" : "reloaded"}.`);
  });
}

$("drills").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-load]");
  if (button) load(button.dataset.load);
});
$("error-form").addEventListener("submit", (event) => { event.preventDefault(); if ($("error-pick").value) load($("error-pick").value); });
$("scen-list").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-remove]");
  if (button) act(async () => {
    await apiJson(`scenarios/${button.dataset.remove.split("/").map(encodeURIComponent).join("/")}`, {method: "DELETE"});
    notify(`Scenario ${button.dataset.remove} removed.`);
  });
});
$("reset").addEventListener("click", () => act(async () => {
  await post("reset", {});
  resetTable();
  state.after = "";
  state.coverage = "";
  notify("The emulator was reset.");
}));

async function refreshClock() {
  const data = await apiJson("clock");
  $("clock-now").dateTime = iso(data.now);
  $("clock-now").textContent = `${iso(data.now).replace("T", " ").replace("Z", " UTC")} (${data.now.toFixed(0)})`;
  const offset = data.offset;
  $("clock-offset").textContent = Math.abs(offset) < 0.5 ? "none (wall clock)" : `${offset > 0 ? "+" : "−"}${duration(Math.abs(offset))}`;
}

function duration(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = Math.round(seconds % 60);
  return [h ? `${h} h` : "", m ? `${m} min` : "", s || (!h && !m) ? `${s} s` : ""].filter(Boolean).join(" ");
}

for (const button of document.querySelectorAll("[data-jump]")) {
  button.addEventListener("click", () => act(() => post("clock", {offset: Number(button.dataset.jump)})));
}
$("clock-reset").addEventListener("click", () => act(() => post("clock", {reset: true})));
$("jump-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(() => post("clock", {offset: Number($("jump-seconds").value)}));
});
$("set-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const epoch = Date.parse(`${$("set-time").value}Z`) / 1000;
  if (Number.isNaN(epoch)) { $("scen-error").textContent = "Not a date and time."; return; }
  act(() => post("clock", {set: epoch}));
});

async function refreshCoverage() {
  const response = await api("dashboard/coverage.html?fragment=1");
  const html = await response.text();
  if (response.ok && html !== state.coverage) {
    state.coverage = html;
    $("cov-body").innerHTML = html;  // rendered and escaped by the emulator
  }
}

async function download(path, filename) {
  try {
    const response = await api(path);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", {href: url, download: filename});
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    if (!(error instanceof Locked)) say(`Export failed: ${error.message}`);
  }
}

$("export-json").addEventListener("click", () => download("coverage", "bda-coverage.json"));
$("export-html").addEventListener("click", () => download("dashboard/coverage.html", "bda-coverage.html"));

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.unlocked) say("Live.");
});

unlock();

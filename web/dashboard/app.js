// The capsule dashboard: renders the snapshots GET /v1/events pushes (Server-Sent Events), and
// calls the admin API's POST endpoints for the controls. Same-origin only: the page, the stream
// and the actions all go to the listener that served it (its session cookie, docs/cli.md).
"use strict";

const KEEP_LOG = 300;     // log lines kept on the page
const KEEP_EVENTS = 50;   // failures and denials kept
const state = { log: [], failures: [], denials: [], snapshot: null };

const $ = (id) => document.getElementById(id);

// An element with text (never HTML: log lines and names come from components).
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells, attrs) {
  const tr = el("tr");
  for (const c of cells) {
    if (c instanceof Node) {
      const td = el("td");
      td.append(c);
      tr.append(td);
    } else {
      tr.append(el("td", c.text, c.cls));
      if (c.col) tr.lastChild.dataset.col = c.col;
    }
  }
  for (const [k, v] of Object.entries(attrs || {})) tr.dataset[k] = v;
  return tr;
}

const num = (n) => ({ text: Number(n).toLocaleString("en-US"), cls: "num" });
const rate = (r) => (r >= 100 ? r.toFixed(0) : r.toFixed(1));
const time = (ms) => new Date(ms).toLocaleTimeString();

// A components-table row for `key`, with its controls; the other cells are filled by render().
function componentRow(body, key) {
  const tr = el("tr");
  tr.dataset.component = key;
  tr.append(el("td", key));
  for (const col of ["supervisor", "state", "restarts", "messages", "msg-rate", "call-rate", "fuel"]) {
    const td = el("td");
    td.dataset.col = col;
    tr.append(td);
  }
  const actions = el("td");
  for (const [label, action] of [["Restart", "restart"], ["Stop", "stop"], ["Upgrade", "upgrade"]]) {
    const b = el("button", label);
    b.dataset.action = action;
    b.dataset.component = key;
    b.addEventListener("click", () => confirmAction(action, key));
    actions.append(b);
  }
  tr.append(actions);
  body.append(tr);
  return tr;
}

function fill(tableId, rows) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren(...rows);
}

function render(s) {
  state.snapshot = s;
  $("host-name").textContent = s.host;
  $("updated").textContent = "updated " + time(s.ts_ms);
  const running = s.instances.filter((i) => i.state === "running").length;
  const processed = s.instances.reduce((a, i) => a + i.processed, 0);
  $("total-msg-rate").textContent = rate(s.rates.messages_per_s);
  $("total-call-rate").textContent = rate(s.rates.calls_per_s);
  $("total-req-rate").textContent = rate(s.rates.requests_per_s);
  $("total-instances").textContent = `${running} / ${s.instances.length}`;
  $("total-processed").textContent = processed.toLocaleString("en-US");
  $("total-failures").textContent = s.instance_failures;
  $("total-dead-letters").textContent = s.dead_letters;
  $("total-pending").textContent = s.requests.pending;

  // Components: the instances summed per ns/name, with the controls.
  // Every component this host started, those stopped too (they can be restarted from here).
  const onDemand = new Set(s.on_demand.map((a) => a.component));
  const components = new Map();
  for (const key of s.components) {
    components.set(key, { key, group: "", n: 0, failed: 0, restarts: 0, processed: 0, msg: 0,
                          call: 0, fuel: 0, operator: 0 });
  }
  for (const i of s.instances) {
    const key = i.id.split("/").slice(0, 2).join("/");
    const c = components.get(key) || { key, n: 0, failed: 0, restarts: 0, processed: 0, msg: 0,
                                       call: 0, fuel: 0 };
    c.group = i.group;
    c.operator = i.operator_restarts;
    c.n += 1;
    c.failed += i.state === "running" ? 0 : 1;
    c.restarts += i.restarts;
    c.processed += i.processed;
    c.msg += i.msg_rate;
    c.call += i.call_rate;
    c.fuel += i.fuel_consumed;
    components.set(key, c);
  }
  // Rows are updated in place, not rebuilt: a click that straddles a snapshot (mousedown on the
  // old button, mouseup on its replacement) would otherwise be lost.
  const body = $("components").querySelector("tbody");
  const rows = new Map([...body.rows].map((tr) => [tr.dataset.component, tr]));
  for (const c of components.values()) {
    const tr = rows.get(c.key) || componentRow(body, c.key);
    rows.delete(c.key);
    const state = onDemand.has(c.key) ? ["on demand", ""]
      : c.n === 0 ? ["stopped", "state-failed"]
      : c.failed ? [`${c.n - c.failed} / ${c.n} running`, "state-failed"]
      : [`${c.n} running`, "state-running"];
    const cells = {
      supervisor: [c.group || c.key, ""], state,
      restarts: [(c.restarts + c.operator).toLocaleString("en-US"), "num"],
      messages: [c.processed.toLocaleString("en-US"), "num"],
      "msg-rate": [rate(c.msg), "num"], "call-rate": [rate(c.call), "num"],
      fuel: [c.fuel.toLocaleString("en-US"), "num"],
    };
    for (const [col, [text, cls]] of Object.entries(cells)) {
      const td = tr.querySelector(`td[data-col="${col}"]`);
      td.textContent = text;
      td.className = cls;
    }
  }
  for (const gone of rows.values()) gone.remove();

  fill("instances", s.instances.map((i) => row([
    { text: i.id }, { text: i.component },
    { text: i.state, cls: "state-" + i.state },
    num(i.restarts + i.operator_restarts), num(i.mailbox_depth),
    { ...num(i.processed), col: "messages" },
    { text: rate(i.msg_rate), cls: "num" }, num(i.calls),
    { text: rate(i.call_rate), cls: "num" }, num(i.fuel_consumed),
  ], { instance: i.id })));

  $("on-demand").hidden = s.on_demand.length === 0;
  fill("on-demand", s.on_demand.map((a) => row([
    { text: a.component }, num(a.active), num(a.waiting), num(a.activations),
    num(a.deactivations), num(a.evictions), num(a.failed_activations),
  ])));

  $("cluster-name").textContent = s.hosts.cluster
    ? `cluster ${s.hosts.cluster} (${s.hosts.connected ? "connected" : "disconnected"})`
    : "(not in a cluster)";
  fill("hosts", s.hosts.hosts.map((h) => row([
    { text: h.name + (h.self ? " (this host)" : "") }, { text: h.groups.join(", ") || "–" },
    num(h.components), { text: h.self ? "–" : `${h.last_seen_ms} ms ago` },
    { text: (h.adopted || []).join(", ") || "–" },
  ])));

  const tree = $("tree");
  const root = el("li", `host ${s.host}`);
  const sups = el("ul");
  for (const sup of s.supervision) {
    const li = el("li", `${sup.name}  (${sup.strategy}, at most ${sup.max_restarts} restarts in ${sup.window_ms} ms)`);
    const members = el("ul");
    for (const m of sup.members) {
      const ml = el("li", m.component);
      const insts = el("ul");
      for (const id of m.instances) insts.append(el("li", id));
      ml.append(insts);
      members.append(ml);
    }
    li.append(members);
    sups.append(li);
  }
  root.append(sups);
  tree.replaceChildren(root);

  keep(state.failures, s.failures, KEEP_EVENTS);
  fill("failures", state.failures.slice().reverse().map((f) => row([
    { text: time(f.ts) }, { text: f.kind }, { text: f.instance },
    { text: f.reason, cls: "wrap" },
  ])));
  keep(state.denials, s.denials, KEEP_EVENTS);
  fill("denials", state.denials.slice().reverse().map((d) => row([
    { text: time(d.ts) }, { text: d.who }, { text: d.action }, { text: d.target, cls: "wrap" },
    { text: d.reason, cls: "wrap" },
  ])));

  const log = $("log");
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  for (const line of s.log) {
    const fields = Object.entries(line.fields || {}).map(([k, v]) => `  ${k}=${v}`).join("");
    const span = el("span", `${time(line.ts)} ${line.level === "info" ? "" : line.level + ": "}${line.msg}${fields}\n`);
    span.className = line.level;
    log.append(span);
  }
  while (log.childNodes.length > KEEP_LOG) log.firstChild.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function keep(list, fresh, max) {
  list.push(...fresh);
  list.splice(0, Math.max(0, list.length - max));
}

function status(text, st) {
  const s = $("status");
  s.textContent = text;
  s.dataset.state = st;
}

function banner(text, error) {
  const b = $("banner");
  b.textContent = text;
  b.className = "banner" + (error ? " error" : "");
  b.hidden = false;
}

// Each control asks first; upgrade also asks for the file.
function confirmAction(action, component) {
  const dialog = $("confirm");
  const upgrade = action === "upgrade";
  $("confirm-text").textContent = {
    restart: `Restart ${component}? Its instances are stopped and started again from the manifest; queued messages are dropped.`,
    stop: `Stop ${component}? Every instance stops and stays down until restarted.`,
    upgrade: `Upgrade ${component} to a new .wasm? Queued messages are kept.`,
  }[action];
  $("upgrade-label").hidden = !upgrade;
  $("upgrade-path").required = upgrade;
  dialog.returnValue = "";
  dialog.onclose = () => {
    if (dialog.returnValue !== "ok") return;
    const body = { component };
    if (upgrade) body.path = $("upgrade-path").value;
    act(action, body);
  };
  dialog.showModal();
}

async function act(action, body) {
  banner(`${action} ${body.component}…`);
  try {
    const r = await fetch("/v1/" + action, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const reply = await r.json().catch(() => ({}));
    if (r.ok && reply.ok) {
      banner(`${action} ${body.component}: done`);
    } else {
      const e = reply.error || {};
      banner(`${action} ${body.component} failed (HTTP ${r.status}): ${e.message || e}`, true);
    }
  } catch (err) {
    banner(`${action} ${body.component} failed: ${err}`, true);
  }
}

function connect() {
  const events = new EventSource("/v1/events");
  events.addEventListener("open", () => status("live", "live"));
  events.addEventListener("snapshot", (e) => render(JSON.parse(e.data)));
  events.addEventListener("bye", () => {
    events.close();
    status("host shut down", "closed");
  });
  events.addEventListener("error", () => {
    // A 401 or 503 answer closes the EventSource for good; a lost connection is retried.
    if (events.readyState === EventSource.CLOSED) {
      status("disconnected: reload, or run `capsule dashboard` for a new link", "closed");
    } else {
      status("reconnecting", "lost");
    }
  });
}

connect();

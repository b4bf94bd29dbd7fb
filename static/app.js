// The live page: draws the graph from GET /graph, starts or attaches to a run on a thread, and
// renders its SSE stream; when the run pauses at an interrupt, it asks for the answer and
// follows the resumed run. Everything that comes from a graph is set with textContent, never
// as HTML.

const EVENT_NAMES = [
  "run.start", "node.start", "node.end", "node.error", "token", "llm.end", "tool.start",
  "tool.end", "custom", "stream.gap", "run.attempt", "run.interrupt", "run.error", "run.end",
];
const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 150;
const NODE_H = 46;
const GAP_X = 28;
const GAP_Y = 44;
// How long to wait before asking again when the gateway could not be reached at all.
const RETRY_MS = 1000;

const $ = (id) => document.getElementById(id);

const view = {
  graph: null, // the graph new runs are of, when the gateway serves several
  runId: null,
  threadId: null,
  threadsEnabled: true,
  answers: new Map(), // interrupt id -> answer, while several are pending
  source: null,
  connecting: null, // the run a connect is under way for
  freshTries: 0, // connects since the stream last opened
  lastId: null,
  lastSeq: 0,
  ended: false,
  spans: new Map(), // span_id -> node id
  tools: new Map(), // span_id -> list item
  progress: new Map(), // progress key -> element
};

// ---------- small DOM helpers ----------

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function compact(value, max = 140) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined) return "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function setConn(state) {
  $("conn").textContent = state;
  $("conn").dataset.state = state;
}

function setRunStatus(status) {
  $("run-status").textContent = status;
  $("run-status").dataset.status = status;
  const active = status === "running" || status === "pending";
  $("cancel").disabled = !active;
  $("drop").disabled = !active;
}

const enc = encodeURIComponent;

function setAddress(threadId, runId) {
  const query = new URLSearchParams();
  if (threadId) query.set("thread", threadId);
  if (runId) query.set("run", runId);
  const search = query.toString();
  history.pushState({ threadId, runId }, "", search ? `?${search}` : location.pathname);
}

// ---------- calling the API, with a key when the gateway asks for one ----------

const KEY_ITEM = "gateway-api-key";

// Resolves with a key the person types in, once the form is submitted.
function askForKey(rejected) {
  const form = $("auth");
  form.hidden = false;
  $("auth-error").hidden = !rejected;
  $("auth-error").textContent = rejected ? "that key was not accepted" : "";
  $("api-key").focus();
  return new Promise((resolve) => {
    form.onsubmit = (event) => {
      event.preventDefault();
      form.hidden = true;
      resolve($("api-key").value.trim());
    };
  });
}

// fetch, with `Authorization: Bearer <key>` once a key is known; a 401 asks for one (again).
// It answers {ok, status, body} with the JSON body already read: a connection cut while the
// body arrives rejects like a failed fetch (Chromium says "Failed to fetch" for both), so
// every failure reaches the caller's one catch, which says so to the person or tries again.
async function api(url, options = {}) {
  for (;;) {
    const key = sessionStorage.getItem(KEY_ITEM);
    const headers = { ...(options.headers || {}) };
    if (key) headers.authorization = `Bearer ${key}`;
    const response = await fetch(url, { ...options, headers });
    if (response.status !== 401) {
      const text = await response.text();
      let body = {};
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        // not JSON (a proxy's error page): the status says enough
      }
      return { ok: response.ok, status: response.status, body };
    }
    sessionStorage.setItem(KEY_ITEM, await askForKey(Boolean(key)));
  }
}

function postJSON(url, body) {
  return api(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

function showRunError(message) {
  $("run-error").hidden = !message;
  $("run-error").textContent = message || "";
}

function unreachable(error) {
  return `the gateway could not be reached (${error.message})`;
}

// ---------- the graph ----------

function layers(nodes, edges) {
  // Longest path from START, so a fan-in lands below every branch feeding it; relaxing at
  // most |nodes| times keeps a graph with cycles finite.
  const layer = new Map(nodes.map((n) => [n.id, 0]));
  for (let i = 0; i < nodes.length; i++) {
    let changed = false;
    for (const e of edges) {
      if (e.source === e.target) continue;
      const next = layer.get(e.source) + 1;
      if (layer.has(e.target) && next > layer.get(e.target) && next < nodes.length) {
        layer.set(e.target, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const end = nodes.find((n) => n.id === "__end__");
  if (end) layer.set(end.id, Math.max(...layer.values()) + (layer.size > 1 ? 0 : 1));
  return layer;
}

function drawGraph(graph) {
  const root = $("graph");
  root.replaceChildren();
  $("graph-name").textContent = graph.name ? `· ${graph.name}` : "";
  const layer = layers(graph.nodes, graph.edges);
  const rows = [];
  for (const node of graph.nodes) {
    const index = layer.get(node.id);
    (rows[index] ||= []).push(node);
  }
  const widest = Math.max(...rows.filter(Boolean).map((r) => r.length));
  const width = widest * NODE_W + (widest + 1) * GAP_X;
  const position = new Map();
  rows.filter(Boolean).forEach((row, y) => {
    const rowWidth = row.length * NODE_W + (row.length - 1) * GAP_X;
    row.forEach((node, x) => {
      position.set(node.id, {
        x: (width - rowWidth) / 2 + x * (NODE_W + GAP_X),
        y: GAP_Y / 2 + y * (NODE_H + GAP_Y),
      });
    });
  });
  const height = rows.filter(Boolean).length * (NODE_H + GAP_Y);
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);

  const defs = svg("defs");
  const marker = svg("marker", {
    id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5",
    markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse",
  });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }));
  defs.append(marker);
  root.append(defs);

  for (const edge of graph.edges) {
    const from = position.get(edge.source);
    const to = position.get(edge.target);
    if (!from || !to) continue;
    const x1 = from.x + NODE_W / 2;
    const y1 = from.y + NODE_H;
    const x2 = to.x + NODE_W / 2;
    const y2 = to.y;
    const bend = Math.max(20, (y2 - y1) / 2);
    // An edge that skips layers (or goes back up) swings out to the side, clear of the
    // boxes in between.
    const skips = y2 - y1 > NODE_H + GAP_Y + 1 || y2 <= y1;
    const side = skips ? NODE_W * 0.8 : 0;
    const d = y2 > y1
      ? `M ${x1} ${y1} C ${x1 + side} ${y1 + bend}, ${x2 + side} ${y2 - bend}, ${x2} ${y2}`
      : `M ${x1} ${y1} C ${x1 + side} ${y1 + 60}, ${x2 + side} ${y2 - 60}, ${x2} ${y2}`;
    root.append(svg("path", {
      d, class: edge.conditional ? "edge conditional" : "edge", "marker-end": "url(#arrow)",
      "data-source": edge.source, "data-target": edge.target,
    }));
  }

  for (const node of graph.nodes) {
    const { x, y } = position.get(node.id);
    const terminal = node.id === "__start__" || node.id === "__end__";
    const group = svg("g", {
      class: terminal ? "node terminal" : "node", "data-node": node.id, "data-state": "idle",
      transform: `translate(${x} ${y})`,
    });
    const label = terminal ? (node.id === "__start__" ? "START" : "END") : node.name;
    group.append(
      svg("title", {}, label),
      svg("rect", { width: NODE_W, height: NODE_H, rx: terminal ? NODE_H / 2 : 8 }),
      svg("text", { x: NODE_W / 2, y: terminal ? NODE_H / 2 + 5 : 19, class: "node-name" },
        compact(label, 20)),
      svg("text", { x: NODE_W / 2, y: 36, class: "node-detail" }, ""),
    );
    root.append(group);
  }
}

function nodeElement(id) {
  return [...document.querySelectorAll("#graph [data-node]")].find((n) => n.dataset.node === id);
}

function setNode(id, state, detail) {
  const group = nodeElement(id);
  if (!group) return;
  group.dataset.state = state;
  if (detail !== undefined) {
    group.querySelector(".node-detail").textContent = compact(detail, 24);
    group.querySelector("title").textContent = `${id}: ${detail}`;
  }
}

function resetView() {
  view.lastId = null;
  view.lastSeq = 0;
  view.ended = false;
  view.spans.clear();
  view.tools.clear();
  view.progress.clear();
  for (const group of document.querySelectorAll("#graph [data-node]")) {
    group.dataset.state = "idle";
    group.querySelector(".node-detail").textContent = "";
  }
  for (const id of ["log", "tokens", "tools", "progress"]) $(id).replaceChildren();
  $("attempt").hidden = true;
  $("event-json").hidden = true;
  $("last-id").textContent = "–";
  $("log-count").textContent = "0";
  showRunError("");
}

// ---------- events ----------

const handlers = {
  "run.start": () => {
    setRunStatus("running");
    setNode("__start__", "done");
  },
  "node.start": (d) => {
    view.spans.set(d.span_id, d.node);
    setNode(d.node, "running", "running…");
  },
  "node.end": (d) => {
    view.spans.delete(d.span_id);
    setNode(d.node, "done", `${(d.duration_ms / 1000).toFixed(2)} s`);
  },
  "node.error": (d) => setNode(d.node, "error", `${d.error.type}: ${d.error.message}`),
  // (A chunk of reasoning only has no text: the page shows the answer.)
  token: (d) => d.text && tokensOf(d.message_id || d.span_id).append(document.createTextNode(d.text)),
  "tool.start": (d) => {
    const item = el("li", { "data-tool": d.tool });
    item.append(el("strong", {}, d.tool), el("span", { class: "tool-io" }, ` ← ${compact(d.input)}`));
    view.tools.set(d.span_id, item);
    $("tools").append(item);
  },
  "tool.end": (d) => {
    const item = view.tools.get(d.span_id) || el("li", {}, d.tool);
    const result = d.error ? `✗ ${d.error.type}: ${d.error.message}` : `→ ${compact(d.output)}`;
    item.append(el("span", { class: d.error ? "tool-io failed" : "tool-io" }, ` ${result}`));
    if (!item.isConnected) $("tools").append(item);
  },
  custom: (d) => showProgress(d),
  // The run's process stopped and another continues it: what the attempt before left
  // unfinished is made again, so its partial output is struck through, not shown twice.
  "run.attempt": (d) => {
    const badge = $("attempt");
    const why = d.reason === "handed_over" ? "handed over" : "process lost";
    badge.textContent = `attempt ${d.attempt} · ${why}`;
    badge.hidden = false;
    for (const id of d.unfinished.messages) {
      for (const part of document.querySelectorAll("#tokens [data-message]")) {
        if (part.dataset.message === id) part.classList.add("dropped");
      }
    }
    for (const spanId of d.unfinished.tools) view.tools.get(spanId)?.classList.add("dropped");
    for (const span of d.unfinished.spans) {
      view.spans.delete(span.span_id);
      setNode(span.node, "idle", "again");
    }
  },
  "stream.gap": (d) => showRunError(`${d.missed} older events were dropped by retention`),
  "run.interrupt": (d) => {
    for (const pending of d.interrupts) setNode(pending.node, "waiting", "waiting for you");
  },
  "run.error": (d) => showRunError(`${d.error.type}: ${d.error.message}`),
  "run.end": (d) => {
    setRunStatus(d.status);
    if (d.status === "success") setNode("__end__", "done");
    finish();
    // The gateway settles the thread before run.end: its status and interrupts are current.
    if (view.threadId) loadThread(view.threadId);
  },
};

// Each message's tokens in an element of their own, so a dropped attempt's can be struck.
function tokensOf(messageId) {
  const box = $("tokens");
  const last = box.lastElementChild;
  if (last && last.dataset.message === messageId) return last;
  const part = el("span", { "data-message": messageId });
  box.append(part);
  return part;
}

function showProgress(d) {
  const data = d.data && typeof d.data === "object" ? d.data : { value: d.data };
  const label = [d.node, data.source || data.step, d.name !== "custom" ? d.name : null]
    .filter(Boolean).join(" · ") || d.name;
  let row = view.progress.get(label);
  if (!row) {
    row = el("div", { class: "progress-row" });
    row.append(el("span", { class: "progress-label" }, label), el("progress", { max: "100" }),
      el("span", { class: "progress-value" }));
    view.progress.set(label, row);
    $("progress").append(row);
  }
  const percent = Number(data.percent);
  if (Number.isFinite(percent)) {
    row.querySelector("progress").value = percent;
    row.querySelector(".progress-value").textContent = `${percent}%`;
  } else {
    row.querySelector("progress").removeAttribute("value");
    row.querySelector(".progress-value").textContent = compact(data, 60);
  }
}

function logRow(name, id, data) {
  const row = el("li", { "data-id": id, "data-event": name, tabindex: "0" });
  const time = new Date(data.ts).toISOString().slice(11, 23);
  row.append(
    el("span", { class: "log-seq" }, String(data.seq)),
    el("span", { class: "log-name" }, name),
    el("span", { class: "log-time" }, time),
  );
  const show = () => {
    const pre = $("event-json");
    pre.textContent = JSON.stringify(data, null, 2);
    pre.hidden = false;
    for (const other of document.querySelectorAll("#log .selected")) other.classList.remove("selected");
    row.classList.add("selected");
  };
  row.addEventListener("click", show);
  row.addEventListener("keydown", (e) => e.key === "Enter" && show());
  const log = $("log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(row);
  $("log-count").textContent = String(log.childElementCount);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function receive(name, message) {
  const data = JSON.parse(message.data);
  // The gateway never repeats an event; this only guards the page against a misbehaving proxy.
  if (data.seq <= view.lastSeq) return;
  view.lastSeq = data.seq;
  view.lastId = message.lastEventId;
  $("last-id").textContent = view.lastId;
  logRow(name, message.lastEventId, data);
  handlers[name]?.(data);
}

// ---------- the connection ----------

// An EventSource cannot send headers: with auth on, the run's stream_url carries a short-lived
// token instead, so it is asked for afresh on every connect (an expired one is a 401, and the
// EventSource stops).
async function streamUrl(runId, lastId) {
  const response = await api(`/runs/${encodeURIComponent(runId)}`);
  if (!response.ok) return null;
  const url = new URL(response.body.stream_url, location.href);
  if (lastId) url.searchParams.set("last_event_id", lastId);
  return url.href;
}

async function connect(runId, lastId) {
  view.connecting = runId;
  let url;
  try {
    url = await streamUrl(runId, lastId);
  } catch {
    // The address could not be asked for: try again shortly, as an EventSource itself does
    // after a network error, from wherever the stream has got to by then.
    if (view.connecting === runId && view.runId === runId) {
      setConn("reconnecting");
      setTimeout(() => {
        if (view.connecting === runId && view.runId === runId) connect(runId, view.lastId);
      }, RETRY_MS);
    }
    return;
  }
  if (view.connecting !== runId || view.runId !== runId) return; // the page moved on meanwhile
  if (!url) {
    setConn("closed");
    await explainClosed(runId);
    return;
  }
  const source = new EventSource(url);
  view.source = source;
  setConn(lastId ? "reconnecting" : "connecting");
  source.onopen = () => {
    view.freshTries = 0;
    setConn("open");
  };
  source.onerror = async () => {
    if (view.source !== source) return;
    if (source.readyState === EventSource.CONNECTING) {
      setConn("reconnecting"); // EventSource retries by itself, sending Last-Event-ID
      return;
    }
    setConn("closed");
    // Closed for good: a refused reconnect, most likely an expired stream token. One more try
    // with a fresh one, from where it stopped.
    if (!view.ended && view.freshTries++ < 1) {
      connect(runId, view.lastId);
      return;
    }
    await explainClosed(runId);
  };
  for (const name of EVENT_NAMES) source.addEventListener(name, (m) => receive(name, m));
}

async function explainClosed(runId) {
  if (view.ended) return;
  let response;
  try {
    response = await api(`/runs/${encodeURIComponent(runId)}`);
  } catch (error) {
    showRunError(`${unreachable(error)}; press Drop connection to try again`);
    return;
  }
  if (response.status === 404) {
    showRunError(`run ${runId} is unknown here (it may have expired)`);
  } else if (response.ok) {
    const run = response.body;
    setRunStatus(run.status);
    if (run.status === "running") showRunError("the stream was closed; press Drop connection to resume");
  }
}

function finish() {
  view.ended = true;
  if (view.source) view.source.close();
  view.source = null;
  setConn("closed");
}

function attach(runId) {
  if (view.source) view.source.close();
  resetView();
  view.runId = runId;
  $("run-id").textContent = runId;
  setRunStatus("pending");
  connect(runId, null);
  markCurrentRun();
}

// ---------- the thread: conversation, runs, and what it waits for ----------

async function loadThread(threadId) {
  let thread;
  let runs;
  try {
    [thread, runs] = await Promise.all([
      api(`/threads/${enc(threadId)}`),
      api(`/threads/${enc(threadId)}/runs`),
    ]);
  } catch (error) {
    showRunError(unreachable(error));
    return null;
  }
  if (thread.status === 404) {
    showRunError(`thread ${threadId} is unknown here`);
    return null;
  }
  if (!thread.ok || !runs.ok) return null;
  const body = thread.body;
  const list = runs.body;
  if (threadId !== view.threadId) return null; // the page has moved to another thread
  renderThread(body, list);
  return { thread: body, runs: list };
}

function renderThread(thread, runs) {
  // A thread is one graph's: show that one.
  const graphId = thread.metadata && thread.metadata.graph_id;
  if (view.graph && graphId && graphId !== view.graph) pickGraph(graphId);
  $("thread-id").textContent = thread.thread_id;
  $("thread-status").textContent = thread.status;
  $("thread-status").dataset.status = thread.status;
  const messages = (thread.values && thread.values.messages) || [];
  $("conversation").replaceChildren(...messages.map((m) => el("li", { "data-role": m.type }, textOf(m))));
  $("thread-runs").replaceChildren(...runs.map((run) => {
    const item = el("li", { "data-run": run.run_id });
    const open = el("button", { type: "button", title: "Show this run" }, run.run_id.slice(0, 8));
    open.addEventListener("click", () => {
      setAddress(view.threadId, run.run_id);
      attach(run.run_id);
    });
    item.append(open, el("span", { class: "muted" }, run.status));
    return item;
  }));
  markCurrentRun();
  showInterrupts(thread.status === "interrupted" ? thread.interrupts : []);
}

function textOf(message) {
  if (typeof message.content === "string") return message.content;
  return (message.content || []).map((part) => part.text || "").join("");
}

function markCurrentRun() {
  for (const item of document.querySelectorAll("#thread-runs li")) {
    item.toggleAttribute("data-current", item.dataset.run === view.runId);
  }
}

function clearThread() {
  view.threadId = null;
  for (const id of ["conversation", "thread-runs"]) $(id).replaceChildren();
  $("thread-id").textContent = "–";
  $("thread-status").textContent = "";
  showInterrupts([]);
}

// The demo's approval asks {question, tool, args}: a yes or a no. Anything else is answered
// with a JSON value.
function isApproval(value) {
  return value !== null && typeof value === "object" && "question" in value && "tool" in value;
}

function showInterrupts(pending) {
  view.answers.clear();
  $("interrupt").hidden = pending.length === 0;
  $("interrupt-items").replaceChildren(...pending.map((item) => {
    const card = el("div", { class: "interrupt-item", "data-interrupt": item.id });
    const question = isApproval(item.value) ? item.value.question : `${item.node} asks:`;
    card.append(el("p", { class: "interrupt-question" }, question));
    if (isApproval(item.value)) {
      card.append(el("pre", {}, `${item.value.tool}(${JSON.stringify(item.value.args)})`));
      const buttons = el("div", { class: "buttons" });
      const yes = el("button", { type: "button", class: "approve" }, "Approve");
      const no = el("button", { type: "button", class: "reject" }, "Reject");
      yes.addEventListener("click", () => answer(pending, item, card, true));
      no.addEventListener("click", () => answer(pending, item, card, false));
      buttons.append(yes, no);
      card.append(buttons);
    } else {
      card.append(el("pre", {}, JSON.stringify(item.value, null, 2)));
      card.append(el("textarea", { rows: "2", spellcheck: "false", "aria-label": "answer (JSON)" }, "true"));
    }
    return card;
  }));
  // Free-form answers (and several approvals) are sent together with Resume.
  const oneApproval = pending.length === 1 && isApproval(pending[0].value);
  $("resume").hidden = pending.length === 0 || oneApproval;
}

function answer(pending, item, card, value) {
  if (pending.length === 1) {
    resume(value);
    return;
  }
  view.answers.set(item.id, value);
  card.dataset.answer = String(value);
}

async function resumeFromForm() {
  const cards = [...document.querySelectorAll("#interrupt-items .interrupt-item")];
  const answers = {};
  for (const card of cards) {
    const box = card.querySelector("textarea");
    if (box) {
      try {
        answers[card.dataset.interrupt] = JSON.parse(box.value);
      } catch (error) {
        showRunError(`the answer is not JSON: ${error.message}`);
        return;
      }
    } else if (view.answers.has(card.dataset.interrupt)) {
      answers[card.dataset.interrupt] = view.answers.get(card.dataset.interrupt);
    } else {
      showRunError("answer every question first");
      return;
    }
  }
  const ids = Object.keys(answers);
  await resume(ids.length === 1 ? answers[ids[0]] : answers);
}

async function resume(value) {
  showRunError("");
  let response;
  try {
    response = await postJSON(`/threads/${enc(view.threadId)}/runs`, {
      command: { resume: value },
    });
  } catch (error) {
    showRunError(unreachable(error));
    return;
  }
  if (!response.ok) {
    showRunError(response.body.message || `HTTP ${response.status}`);
    return;
  }
  showInterrupts([]);
  setAddress(view.threadId, response.body.run_id);
  attach(response.body.run_id);
  loadThread(view.threadId);
}

function drop() {
  if (!view.source || !view.runId) return;
  view.source.close();
  view.source = null;
  connect(view.runId, view.lastId);
}

async function start() {
  let input;
  try {
    input = JSON.parse($("input").value);
    if (input === null || typeof input !== "object" || Array.isArray(input)) {
      throw new Error("the input must be a JSON object");
    }
  } catch (error) {
    $("input-error").textContent = error.message;
    $("input-error").hidden = false;
    return;
  }
  if ($("approve").checked) input.approve = true;
  $("input-error").hidden = true;
  $("start").disabled = true;
  try {
    let threadId = view.threadId;
    if (!threadId && view.threadsEnabled) {
      const made = await postJSON("/threads", {});
      // Served without a checkpointer there are no threads: runs stand alone.
      if (made.status === 501) view.threadsEnabled = false;
      else if (made.ok) threadId = made.body.thread_id;
    }
    const url = threadId ? `/threads/${enc(threadId)}/runs` : "/runs";
    const { ok, status, body } = await postJSON(url, view.graph ? { input, graph: view.graph } : { input });
    if (!ok) {
      $("input-error").textContent = body.message || `HTTP ${status}`;
      $("input-error").hidden = false;
      return;
    }
    view.threadId = threadId;
    setAddress(threadId, body.run_id);
    attach(body.run_id);
    if (threadId) loadThread(threadId);
  } catch (error) {
    $("input-error").textContent = unreachable(error);
    $("input-error").hidden = false;
  } finally {
    $("start").disabled = false;
  }
}

async function cancel() {
  if (!view.runId) return;
  try {
    await api(`/runs/${encodeURIComponent(view.runId)}/cancel`, { method: "POST" });
  } catch (error) {
    showRunError(unreachable(error));
  }
}

// ---------- several graphs (a langgraph.json's) ----------

async function offerGraphs() {
  let listed;
  try {
    listed = await api("/graphs");
  } catch (error) {
    showRunError(unreachable(error));
    return;
  }
  if (!listed.ok || listed.body.length < 2) return;
  const pick = $("graph-pick");
  pick.replaceChildren(...listed.body.map((id) => el("option", { value: id }, id)));
  view.graph = listed.body[0];
  $("graph-choice").hidden = false;
  pick.addEventListener("change", async () => {
    await pickGraph(pick.value);
    // The thread shown is the other graph's: new runs go on a new thread.
    clearThread();
    setAddress(null, null);
  });
}

async function pickGraph(graphId) {
  view.graph = graphId;
  $("graph-pick").value = graphId;
  try {
    const response = await api(`/graph?name=${enc(graphId)}`);
    if (response.ok) drawGraph(response.body);
  } catch (error) {
    showRunError(unreachable(error));
  }
}

function fromLocation() {
  const query = new URLSearchParams(location.search);
  return { threadId: query.get("thread"), runId: query.get("run") };
}

async function show({ threadId, runId }) {
  view.threadId = threadId;
  if (!threadId) clearThread();
  const loaded = threadId ? await loadThread(threadId) : null;
  // On a thread with no run named, show its latest one.
  const target = runId || (loaded && loaded.runs.length ? loaded.runs[0].run_id : null);
  if (target) attach(target);
}

async function main() {
  $("start").addEventListener("click", start);
  $("cancel").addEventListener("click", cancel);
  $("drop").addEventListener("click", drop);
  $("resume").addEventListener("click", resumeFromForm);
  $("new-thread").addEventListener("click", () => {
    clearThread();
    setAddress(null, null);
  });
  window.addEventListener("popstate", () => show(fromLocation()));
  let response;
  try {
    response = await api("/graph");
  } catch (error) {
    showRunError(`${unreachable(error)}; reload the page to try again`);
    return;
  }
  drawGraph(response.body);
  await offerGraphs();
  await show(fromLocation());
  document.body.dataset.ready = "true";
}

main();

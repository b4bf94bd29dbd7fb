// LangGraph's thread-centric event streaming ("v2") through the JS client's
// `client.threads.stream`: one thread, a run started by command that stops at an interrupt,
// the interrupt answered on the same stream, then a second run on the same thread. Prints what
// it saw as ONE JSON line on stdout for the test to check.
//
// Usage: node threads_stream.mjs <apiUrl> <sse|websocket> [--assistant ID] [--input JSON]
//                                [--progress] [--timeout SECONDS]
//   --input     merged into the first run's input (the graph's tokens, token_delay, ...)
//   --progress  also writes each event (and each command sent and answered) as a JSON line on
//               stderr, the moment it arrives, with `t`: milliseconds since the script began
// Over a WebSocket, Node 20 needs `--experimental-websocket` (Node 22 has WebSocket built in).
// Every wait is bounded: on a timeout the process prints what it had on stderr and exits 2.
//
// Each event is put in the phase it belongs to by its `seq`, not by when it came: "start" up
// to the first run's end (its root terminal lifecycle event), "resume" up to the resumed run's
// end, "again" after. (Over a WebSocket that reconnects, the client re-subscribes each of its
// subscriptions in turn and hands every event to each that matches, so a live lifecycle event
// can reach a subscription before the replay of its earlier events does.)
import { randomUUID } from "node:crypto";
import { Client } from "@langchain/langgraph-sdk";

const args = process.argv.slice(2);
const positional = [];
const flags = { input: "{}", progress: false, timeout: "30", assistant: null };
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === "--progress") flags.progress = true;
  else if (args[i].startsWith("--")) flags[args[i].slice(2)] = args[++i];
  else positional.push(args[i]);
}
const [apiUrl, transport = "sse"] = positional;
if (!apiUrl || !["sse", "websocket"].includes(transport)) {
  console.error("usage: node threads_stream.mjs <apiUrl> <sse|websocket> [options]");
  process.exit(64);
}
if (transport === "websocket" && typeof WebSocket === "undefined") {
  console.error("no global WebSocket: run Node 20 with --experimental-websocket");
  process.exit(64);
}
const WAIT_MS = Number(flags.timeout) * 1000;
const CHANNELS = ["values", "updates", "messages", "tools", "custom", "lifecycle", "input"];
const FIRST = {
  messages: [{ type: "human", content: "hi" }],
  approve: true,
  tokens: 12,
  token_delay: 0.01,
  ...JSON.parse(flags.input),
};
const SECOND = { ...FIRST, messages: [{ type: "human", content: "again" }], approve: false };

const seen = {
  transport,
  threadId: randomUUID(),
  assistantId: null,
  runs: [], // {phase, result}: what run.start answered ({run_id}), and input.respond
  counts: {}, // events by method
  countsByPhase: {}, // {phase: {method: n}}
  events: [], // one compact line per event, in arrival order
  outOfOrder: 0, // events that came after one with a higher seq
  messages: [], // one per message-start: {id, namespace, phase, role}
  texts: {}, // message id -> text assembled from its content-block-delta events
  deltas: {}, // message id -> how many text deltas made it
  arrivals: {}, // message id -> [ms, ms]: when its first and its last delta came
  finished: {}, // message id -> the text its content-block-finish carried
  lifecycle: {}, // namespace ("|"-joined, "" for the root) -> its lifecycle events in order
  namespaces: [], // every non-root namespace seen, in order of first appearance
  interrupts: [], // input.requested: {interrupt_id, namespace, payload, phase}
  sdkInterrupts: null, // the client's own view (thread.interrupts) before answering
  tools: [],
  custom: [],
  updates: [],
  values: {}, // namespace -> how many values events
  errors: [], // what the client reported through thread.onError

  state: null,
};

let phase = "start"; // the script's step, for --progress; the summary's phases go by seq
const PHASES = ["start", "resume", "again"];
const TERMINAL = ["interrupted", "completed", "failed"]; // a root lifecycle event ending a run
let highestSeq = -1;
const waiters = [];
const startedAt = Date.now();

// Exits once `text` is written: a pipe may take it in parts, and exiting sooner would cut it.
function exitAfter(stream, text, code) {
  stream.write(`${text}\n`, () => process.exit(code));
}

let failed = false;
function fail(reason) {
  if (failed) return;
  failed = true;
  assignPhases();
  console.error(JSON.stringify({ failed: reason, after_ms: Date.now() - startedAt }));
  exitAfter(process.stderr, JSON.stringify({ seen }), 2);
}

process.on("unhandledRejection", (error) => fail(String(error?.stack ?? error)));
// The whole script is bounded too, in case a wait below is not.
const watchdog = setTimeout(() => fail("the script as a whole timed out"), WAIT_MS * 6);

function within(promise, label) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${label}`)), WAIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

// A command to the thread, bounded; with --progress, its sending and its answer are lines too
// (so a test cuts connections only while no command is on its way).
async function command(label, send) {
  if (flags.progress) console.error(JSON.stringify({ command: label, state: "sent" }));
  const result = await within(send(), label);
  if (flags.progress) console.error(JSON.stringify({ command: label, state: "answered" }));
  return result;
}

function bump(counts, key) {
  counts[key] = (counts[key] ?? 0) + 1;
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => part?.text ?? "").join("");
  return "";
}

const currentMessage = new Map(); // namespace key -> id of the message streaming there

function record(event) {
  const { method, params } = event;
  const namespace = params?.namespace ?? [];
  const key = namespace.join("|");
  const data = params?.data ?? {};
  const { seq } = event;
  bump(seen.counts, method);
  if (seq < highestSeq) seen.outOfOrder += 1;
  highestSeq = Math.max(highestSeq, seq);
  seen.events.push({
    method,
    seq,
    event_id: event.event_id,
    namespace,
    ...(params?.node != null ? { node: params.node } : {}),
    ...(typeof data.event === "string" ? { event: data.event } : {}),
  });
  if (flags.progress) {
    const t = Date.now() - startedAt;
    console.error(JSON.stringify({ phase, method, seq, event: data.event, t }));
  }
  if (namespace.length && !seen.namespaces.some((ns) => ns.join("|") === key)) {
    seen.namespaces.push(namespace);
  }
  switch (method) {
    case "lifecycle":
      (seen.lifecycle[key] ??= []).push(data.event);
      break;
    case "messages":
      if (data.event === "message-start") {
        currentMessage.set(key, data.id);
        seen.messages.push({ id: data.id, namespace, seq, role: data.role });
        seen.texts[data.id] ??= "";
        seen.deltas[data.id] ??= 0;
      } else if (data.event === "content-block-delta" && data.delta?.type === "text-delta") {
        const id = currentMessage.get(key);
        seen.texts[id] = (seen.texts[id] ?? "") + data.delta.text;
        seen.deltas[id] = (seen.deltas[id] ?? 0) + 1;
        const now = Date.now() - startedAt;
        seen.arrivals[id] = [seen.arrivals[id]?.[0] ?? now, now];
      } else if (data.event === "content-block-finish" && data.content?.type === "text") {
        const id = currentMessage.get(key);
        seen.finished[id] = (seen.finished[id] ?? "") + data.content.text;
      }
      break;
    case "input.requested":
      seen.interrupts.push({
        interrupt_id: data.interrupt_id,
        namespace,
        payload: data.payload,
        seq,
      });
      break;
    case "tools":
      seen.tools.push({ seq, namespace, ...data });
      break;
    case "custom":
      seen.custom.push({ seq, namespace, data });
      break;
    case "updates":
      seen.updates.push({
        seq,
        namespace,
        node: data.node ?? params.node ?? null,
        keys: Object.keys(data.values ?? {}),
      });
      break;
    case "values":
      bump(seen.values, key);
      break;
    default:
      break;
  }
  for (const waiter of [...waiters]) {
    if (waiter.test(event)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(event);
    }
  }
}

// Puts `phase` on every event and item by its seq: the root's terminal lifecycle events
// (interrupted, completed, failed) end one phase and begin the next.
function assignPhases() {
  const ends = seen.events
    .filter((e) => e.method === "lifecycle" && !e.namespace.length && TERMINAL.includes(e.event))
    .map((e) => e.seq)
    .sort((a, b) => a - b);
  const phaseOf = (seq) => PHASES[Math.min(ends.filter((end) => end < seq).length, 2)];
  const { events, messages, interrupts, tools, custom, updates } = seen;
  for (const list of [events, messages, interrupts, tools, custom, updates]) {
    for (const item of list) item.phase = phaseOf(item.seq);
  }
  for (const e of seen.events) {
    seen.countsByPhase[e.phase] ??= {};
    bump(seen.countsByPhase[e.phase], e.method);
  }
}

function next(test, label) {
  return within(new Promise((resolve) => waiters.push({ test, resolve })), label);
}

// The root's next terminal lifecycle event after seq `after`: the end of a run.
function runEnd(after, label) {
  return next(
    (event) =>
      event.method === "lifecycle" &&
      event.params.namespace.length === 0 &&
      TERMINAL.includes(event.params.data?.event) &&
      event.seq > after,
    label,
  );
}

function endedAs(event, expected, what) {
  const { event: how, error } = event.params.data;
  if (how !== expected) throw new Error(`${what} ended ${how}${error ? `: ${error}` : ""}`);
}

// A subscription ends its iteration at the root's terminal lifecycle event (the client pauses
// it) and picks up again when the next run starts on the thread: keep draining it across runs.
async function pump(subscription) {
  for (;;) {
    for await (const event of subscription) record(event);
    if (!subscription.isPaused) return;
    await subscription.waitForResume();
  }
}

const client = new Client({ apiUrl });
try {
  if (flags.assistant) seen.assistantId = flags.assistant;
  else {
    const [assistant] = await within(client.assistants.search({ limit: 1 }), "assistants.search");
    seen.assistantId = assistant.assistant_id;
  }
  const thread = client.threads.stream(seen.threadId, {
    assistantId: seen.assistantId,
    transport,
  });
  thread.onError((error) => seen.errors.push(String(error?.message ?? error)));

  // Runs on a new thread: the command creates the thread, so it goes first; the subscription
  // then replays the thread's events from its first.
  let stopped = runEnd(-1, "the first run's end");
  const started = await command("run.start", () => thread.run.start({ input: FIRST }));
  seen.runs.push({ phase, result: started });
  const subscription = await command("subscribe", () => thread.subscribe({ channels: CHANNELS }));
  const drained = pump(subscription);
  const first = await stopped;
  endedAs(first, "interrupted", "the first run");
  if (!seen.interrupts.length) await next((e) => e.method === "input.requested", "input.requested");
  seen.sdkInterrupts = thread.interrupts.map(({ interruptId, namespace }) => ({
    interruptId,
    namespace,
  }));

  phase = "resume";
  const asked = seen.interrupts.at(-1);
  stopped = runEnd(first.seq, "the resumed run's end");
  const answered = await command("input.respond", () =>
    thread.input.respond({
      namespace: asked.namespace,
      interrupt_id: asked.interrupt_id,
      response: true,
    }),
  );
  seen.runs.push({ phase, result: answered ?? null });
  const resumed = await stopped;
  endedAs(resumed, "completed", "the resumed run");

  phase = "again";
  stopped = runEnd(resumed.seq, "the second run's end");
  seen.runs.push({
    phase,
    result: await command("run.start", () => thread.run.start({ input: SECOND })),
  });
  const again = await stopped;
  endedAs(again, "completed", "the second run");
  // Trailing events of the same step (a last `values`) may follow the terminal event.
  await new Promise((resolve) => setTimeout(resolve, 300));

  seen.state = await within(client.threads.getState(seen.threadId), "threads.getState");
  seen.state = {
    next: seen.state.next,
    decision: seen.state.values?.decision,
    messages: (seen.state.values?.messages ?? []).map((m) => ({
      type: m.type,
      id: m.id,
      text: textOf(m.content),
      tool_calls: (m.tool_calls ?? []).map((call) => call.name),
    })),
  };
  await within(subscription.unsubscribe(), "unsubscribe");
  await within(thread.close(), "close");
  await within(drained, "the subscription's end");
  clearTimeout(watchdog);
  assignPhases();
  exitAfter(process.stdout, JSON.stringify(seen), 0);
} catch (error) {
  fail(String(error?.stack ?? error));
}

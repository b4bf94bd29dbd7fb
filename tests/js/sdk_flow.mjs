// LangGraph's JS client through its core flow against a server's LangGraph API; prints what
// it saw as one JSON object for the test to check. Usage: node sdk_flow.mjs <apiUrl>
import { Client } from "@langchain/langgraph-sdk";

const [apiUrl] = process.argv.slice(2);
const client = new Client({ apiUrl });
// (A thread keeps its state: `approve` stays until a run's input changes it.)
const FAST = { delay: 0.01, tokens: 5, token_delay: 0.002, approve: false };
const MODES = ["values", "updates", "messages-tuple", "custom"];

async function collect(stream) {
  const parts = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

const seen = {};
seen.assistants = (await client.assistants.search()).map((a) => a.graph_id);
const { thread_id: threadId } = await client.threads.create({ metadata: { client: "js" } });

const paused = await collect(
  client.runs.stream(threadId, "demo", { input: { ...FAST, approve: true }, streamMode: MODES }),
);
seen.pausedEvents = paused.map((p) => p.event);
seen.pausedIds = paused.map((p) => p.id);
seen.interrupt = paused.at(-1).data.__interrupt__;
seen.stateNext = (await client.threads.getState(threadId)).next;
seen.threadStatus = (await client.threads.get(threadId)).status;

const resumed = await collect(
  client.runs.stream(threadId, "demo", { command: { resume: true }, streamMode: MODES }),
);
seen.resumedEvents = resumed.map((p) => p.event);
seen.tokens = resumed
  .filter((p) => p.event === "messages" && p.data[0].type === "AIMessageChunk")
  .map((p) => p.data[0].content)
  .join("");
seen.answer = resumed.filter((p) => p.event === "values").at(-1).data.answer;

const run = await client.runs.create(threadId, "demo", {
  input: { ...FAST, tokens: 40, token_delay: 0.02 },
  streamMode: MODES,
});
const head = [];
for await (const part of client.runs.joinStream(threadId, run.run_id)) {
  head.push(part);
  if (head.length === 10) break; // leave while the run is live
}
const rest = await collect(
  client.runs.joinStream(threadId, run.run_id, { lastEventId: head.at(-1).id }),
);
const whole = await collect(client.runs.joinStream(threadId, run.run_id, { lastEventId: "-1" }));
seen.joined = [...head, ...rest].map((p) => p.id);
seen.replayed = whole.map((p) => p.id);

seen.waited = await client.runs.wait(threadId, "demo", { input: { ...FAST, topic: "waited" } });
seen.history = (await client.threads.getHistory(threadId, { limit: 2 })).map((s) => s.next);
await client.threads.delete(threadId);
try {
  await client.threads.get(threadId);
  seen.afterDelete = "found";
} catch (error) {
  seen.afterDelete = error.status;
}
console.log(JSON.stringify(seen));

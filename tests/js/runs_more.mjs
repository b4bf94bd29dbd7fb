// LangGraph's JS SDK on the rest of the run and thread calls, against a LangGraph API serving
// `rollback_graphs:counter`: cancel with rollback (one run, then several), a batch, delete a
// run, copy a thread, prune threads. Usage: node runs_more.mjs API_URL. Prints one JSON object.
import { Client } from "@langchain/langgraph-sdk";

const [apiUrl] = process.argv.slice(2);
const client = new Client({ apiUrl });
const count = async (threadId) => (await client.threads.getState(threadId)).values.count ?? null;

async function lingering(threadId, expected) {
  const run = await client.runs.create(threadId, "counter", { input: { slow: true } });
  const deadline = Date.now() + 30_000;
  while ((await count(threadId)) !== expected) {
    if (Date.now() > deadline) throw new Error("the slow run did not take its step");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return run;
}

const thread = await client.threads.create();
const id = thread.thread_id;
const first = await client.runs.wait(id, "counter", { input: {} });
const slow = await lingering(id, 2);
await client.runs.cancel(id, slow.run_id, false, "rollback");
const afterRollback = await count(id);
const listed = (await client.runs.list(id)).map((r) => r.run_id);

const again = await lingering(id, 2);
const queued = await client.runs.create(id, "counter", { input: {}, multitaskStrategy: "enqueue" });
await client.runs.cancelMany({ threadId: id, runIds: [again.run_id, queued.run_id], action: "rollback" });
const afterMany = await count(id);

const batch = await client.runs.createBatch([
  { assistantId: "counter", input: {} },
  { assistantId: "counter", input: {} },
]);
const copy = await client.threads.copy(id);
const copied = await count(copy.thread_id);
await client.runs.delete(id, listed[0]);
const afterDelete = (await client.runs.list(id)).length;
const pruned = await client.threads.prune([id, copy.thread_id]);
console.log(
  JSON.stringify({ first, afterRollback, listed, slow, afterMany, batch, copied, afterDelete, pruned }),
);

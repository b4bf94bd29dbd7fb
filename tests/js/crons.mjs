// LangGraph's JS SDK on crons (client.crons.*) against a LangGraph API serving the `echo`
// graph: a stateless cron and a thread's, found, counted, changed, deleted.
// Usage: node crons.mjs API_URL. Prints one JSON object.
import { Client } from "@langchain/langgraph-sdk";

const [apiUrl] = process.argv.slice(2);
const client = new Client({ apiUrl });
const tag = `js-${Date.now()}-${Math.random()}`;
const thread = await client.threads.create();
const created = await client.crons.create("echo", {
  schedule: "0 0 1 1 *",
  input: { seen: {} },
  metadata: { tag },
});
const forThread = await client.crons.createForThread(thread.thread_id, "echo", {
  schedule: "0 0 1 1 *",
  metadata: { tag },
});
const found = await client.crons.search({ metadata: { tag }, sortBy: "created_at", sortOrder: "asc" });
const count = await client.crons.count({ metadata: { tag } });
const updated = await client.crons.update(created.cron_id, { schedule: "0 12 * * *", enabled: false });
await client.crons.delete(created.cron_id);
await client.crons.delete(forThread.cron_id);
let gone = null;
try {
  await client.crons.delete(created.cron_id);
} catch (error) {
  gone = error.status ?? String(error);
}
await client.threads.delete(thread.thread_id);
console.log(JSON.stringify({ thread, created, forThread, found, count, updated, gone }));

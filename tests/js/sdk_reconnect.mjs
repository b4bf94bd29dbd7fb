// Streams one long run and prints each event (name and id) as a line the moment it arrives, so
// a test can cut the connection mid-run; LangGraph's JS client must reconnect by itself.
// Usage: node sdk_reconnect.mjs <apiUrl>
import { Client } from "@langchain/langgraph-sdk";

const [apiUrl] = process.argv.slice(2);
const client = new Client({ apiUrl });
const { thread_id: threadId } = await client.threads.create();
const stream = client.runs.stream(threadId, "demo", {
  input: { delay: 0.05, tokens: 120, token_delay: 0.03 },
  streamMode: ["messages-tuple", "values"],
  onRunCreated: ({ run_id }) => console.log(JSON.stringify({ run: run_id, thread: threadId })),
});
for await (const part of stream) console.log(JSON.stringify({ event: part.event, id: part.id }));
console.log(JSON.stringify({ done: true }));

// LangGraph's JS SDK on assistants (client.assistants.*) against a LangGraph API serving the
// `echo` graph: create, update, versions, set the latest, count, delete.
// Usage: node assistants.mjs API_URL. Prints one JSON object.
import { Client } from "@langchain/langgraph-sdk";

const [apiUrl] = process.argv.slice(2);
const client = new Client({ apiUrl });
const created = await client.assistants.create({ graphId: "echo", name: "js", context: { greeting: "hi" } });
const updated = await client.assistants.update(created.assistant_id, { name: "renamed" });
const versions = await client.assistants.getVersions(created.assistant_id);
const latest = await client.assistants.setLatest(created.assistant_id, 1);
const count = await client.assistants.count({ graphId: "echo" });
await client.assistants.delete(created.assistant_id);
let gone = null;
try {
  await client.assistants.get(created.assistant_id);
} catch (error) {
  gone = error.status ?? String(error);
}
console.log(JSON.stringify({ created, updated, versions, latest, count, gone }));

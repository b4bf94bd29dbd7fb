// LangGraph's JS SDK on the store (client.store.*) against a LangGraph API: put, get, search,
// list, delete. Usage: node store.mjs API_URL. Prints one JSON object.
import { Client } from "@langchain/langgraph-sdk";

const [apiUrl] = process.argv.slice(2);
const client = new Client({ apiUrl });
const space = ["js", `user-${Date.now()}`];
await client.store.putItem(space, "a", { colour: "blue" });
await client.store.putItem([...space, "deep"], "b", { colour: "red" });
const item = await client.store.getItem(space, "a");
const found = await client.store.searchItems(space, { filter: { colour: "red" } });
const listed = await client.store.listNamespaces({ prefix: space });
await client.store.deleteItem(space, "a");
const gone = await client.store.getItem(space, "a");
console.log(JSON.stringify({ space, item, found, listed, gone }));

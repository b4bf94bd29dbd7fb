// One turn through @ag-ui/client's HttpAgent against a graph whose model calls a tool: prints
// the events (as the client verified them) and the messages the agent holds afterwards.
import { HttpAgent } from "@ag-ui/client";

const [url, threadId] = process.argv.slice(2);
const agent = new HttpAgent({ url, threadId, initialState: { tokens: 3 } });
agent.messages.push({ id: "question", role: "user", content: "hi" });
const events = [];
await agent.runAgent({}, { onEvent: ({ event }) => void events.push(event) });
console.log(JSON.stringify({ events, messages: agent.messages }));

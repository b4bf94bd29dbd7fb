// A chat through @ag-ui/client's HttpAgent against an AG-UI endpoint serving the demo graph:
// a first turn, a turn paused at the approval interrupt and resumed, a turn whose node fails.
// Prints one JSON object: every turn's events (as the client verified and applied them), and
// the messages and state the agent holds at the end.
import { HttpAgent } from "@ag-ui/client";

const [url, threadId] = process.argv.slice(2);
const quick = { delay: 0.01, tokens: 6, token_delay: 0.01 };
const agent = new HttpAgent({ url, threadId, initialState: quick });
const turns = [];

async function turn(name, parameters = {}) {
  const events = [];
  const record = { name, events, error: null, outcome: null };
  turns.push(record);
  try {
    const result = await agent.runAgent(parameters, {
      onEvent({ event }) {
        events.push(event);
      },
    });
    record.newMessages = result.newMessages.map((m) => m.id);
  } catch (error) {
    record.error = String(error?.message ?? error);
  }
  const finished = events.findLast((e) => e.type === "RUN_FINISHED");
  record.outcome = finished?.outcome ?? null;
  return record;
}

function ask(text) {
  agent.messages.push({ id: `user-${agent.messages.length}`, role: "user", content: text });
}

ask("hello");
await turn("first");
ask("approve this");
agent.state = { ...agent.state, approve: true };
const paused = await turn("paused");
const interrupts = paused.outcome?.interrupts ?? [];
agent.state = { ...agent.state, approve: false };
await turn("resumed", {
  resume: interrupts.map((i) => ({ interruptId: i.id, status: "resolved", payload: true })),
});
ask("fail please");
agent.state = { ...agent.state, fail: "merge" };
await turn("failed");

console.log(JSON.stringify({ turns, messages: agent.messages, state: agent.state }));

// A chat through CopilotKit: its runtime (@copilotkit/runtime's v2 node listener, serving the
// gateway's AG-UI endpoint as the agent "demo" through an HttpAgent, as its docs wire any AG-UI
// agent) and its frontend core's agent (@copilotkit/core's ProxiedCopilotRuntimeAgent, which
// CopilotKit's React hooks drive; an HttpAgent, so @ag-ui/client's verifier checks each stream).
// Two turns, one paused at an interrupt and resumed, and a failing one. Prints one JSON object: each turn's events, and the messages the
// agent holds at the end.
import { createServer } from "node:http";

// CopilotKit reports usage unless told not to; nothing may leave this machine.
process.env.COPILOTKIT_TELEMETRY_DISABLED = "true";
const { CopilotRuntime } = await import("@copilotkit/runtime/v2");
const { createCopilotNodeListener } = await import("@copilotkit/runtime/v2/node");
const { ProxiedCopilotRuntimeAgent } = await import("@copilotkit/core");
const { HttpAgent } = await import("@ag-ui/client");

const [url, threadId] = process.argv.slice(2);
const runtime = new CopilotRuntime({ agents: { demo: new HttpAgent({ url }) } });
const server = createServer(createCopilotNodeListener({ runtime, basePath: "/api/copilotkit" }));
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const runtimeUrl = `http://127.0.0.1:${server.address().port}/api/copilotkit`;

const agent = new ProxiedCopilotRuntimeAgent({
  runtimeUrl,
  agentId: "demo",
  threadId,
  transport: "rest",
  initialState: { delay: 0.01, tokens: 6, token_delay: 0.01 },
});
const turns = [];

async function turn(name, text, parameters = {}) {
  if (text) agent.messages.push({ id: `user-${agent.messages.length}`, role: "user", content: text });
  const events = [];
  const record = { name, events, error: null };
  turns.push(record);
  try {
    await agent.runAgent(parameters, { onEvent: ({ event }) => events.push(event) });
  } catch (error) {
    record.error = String(error?.message ?? error);
  }
}

try {
  await turn("first", "hello");
  await turn("second", "and again");
  agent.state = { ...agent.state, approve: true };
  await turn("paused", "approve this");
  const paused = turns.at(-1).events.findLast((e) => e.type === "RUN_FINISHED");
  agent.state = { ...agent.state, approve: false };
  const resume = (paused?.outcome?.interrupts ?? []).map((i) => ({
    interruptId: i.id,
    status: "resolved",
    payload: true,
  }));
  await turn("resumed", null, { resume });
  agent.state = { ...agent.state, fail: "merge" };
  await turn("failed", "fail please");
} finally {
  server.close();
}
console.log(JSON.stringify({ turns, messages: agent.messages }));
// The runtime keeps timers of its own (its thread store's sweeps) that would hold Node open.
process.exit(0);

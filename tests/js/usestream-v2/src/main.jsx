// A minimal chat on @langchain/react's useStream, which speaks LangGraph's thread-centric
// event streaming: commands to start runs and answer interrupts, one event stream per thread.
// The address carries the API (?api=), the assistant (?assistant=), the thread (?thread=, set
// once the first message is sent, so a reload re-attaches to it), the transport
// (?transport=sse|websocket) and the graph's options (tokens, token_delay, approve).
import { useStream } from "@langchain/react";
import { useState } from "react";
import { createRoot } from "react-dom/client";

const query = new URLSearchParams(location.search);
const apiUrl = query.get("api") ?? `${location.origin}/langgraph`;
const assistantId = query.get("assistant") ?? "agent";
const transport = query.get("transport") === "websocket" ? "websocket" : "sse";
const options = {
  tokens: Number(query.get("tokens") ?? 12),
  token_delay: Number(query.get("token_delay") ?? 0.01),
  approve: query.get("approve") === "1",
};
const initialThread = query.get("thread");

function typeOf(message) {
  return typeof message.getType === "function" ? message.getType() : message.type;
}

function textOf(message) {
  const { content } = message;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => part?.text ?? "").join("");
  return "";
}

function App() {
  const thread = useStream({
    apiUrl,
    assistantId,
    transport,
    threadId: initialThread,
    onThreadId: (id) => {
      query.set("thread", id);
      history.replaceState(null, "", `?${query}`);
    },
  });
  const [draft, setDraft] = useState("");
  const send = (event) => {
    event.preventDefault();
    thread.submit({ messages: [{ type: "human", content: draft }], ...options });
    setDraft("");
  };
  const interrupt = thread.interrupt;
  return (
    <main>
      <ol id="messages">
        {thread.messages.map((message, index) => (
          <li key={message.id ?? index} data-type={typeOf(message)} data-id={message.id}>
            {textOf(message)}
          </li>
        ))}
      </ol>
      <ul id="tools">
        {thread.toolCalls.map((call) => (
          <li
            key={call.callId}
            data-name={call.name}
            data-status={call.status}
            data-call-id={call.callId}
          >
            {call.name}
          </li>
        ))}
      </ul>
      <p id="status">{thread.isLoading ? "streaming" : "idle"}</p>
      <p id="thread">{thread.threadId ?? ""}</p>
      {thread.error ? <p id="error">{String(thread.error?.message ?? thread.error)}</p> : null}
      {interrupt ? (
        <div id="interrupt" data-id={interrupt.id}>
          <p id="question">{interrupt.value?.question}</p>
          <button
            id="approve"
            type="button"
            onClick={() => thread.respond(true, { interruptId: interrupt.id })}
          >
            Approve
          </button>
        </div>
      ) : null}
      <form onSubmit={send}>
        <input id="draft" value={draft} onChange={(event) => setDraft(event.target.value)} />
        <button id="send" type="submit">
          Send
        </button>
        <button id="stop" type="button" disabled={!thread.isLoading} onClick={() => thread.stop()}>
          Stop
        </button>
      </form>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);

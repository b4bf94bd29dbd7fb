// A minimal chat on LangGraph's useStream, pointed at the gateway's /langgraph. The address
// carries the thread (?thread=) and the demo graph's options (tokens, token_delay, approve).
import { useStream } from "@langchain/langgraph-sdk/react";
import { useState } from "react";
import { createRoot } from "react-dom/client";

const query = new URLSearchParams(location.search);
const options = {
  delay: Number(query.get("delay") ?? 0.02),
  tokens: Number(query.get("tokens") ?? 20),
  token_delay: Number(query.get("token_delay") ?? 0.03),
  approve: query.get("approve") === "1",
};

function text(message) {
  return typeof message.content === "string"
    ? message.content
    : message.content.map((part) => part.text ?? "").join("");
}

function App() {
  const [threadId, setThreadId] = useState(query.get("thread"));
  const thread = useStream({
    apiUrl: `${location.origin}/langgraph`,
    assistantId: "demo",
    threadId,
    reconnectOnMount: true,
    onThreadId: (id) => {
      setThreadId(id);
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
  return (
    <main>
      <ol id="messages">
        {thread.messages.map((message) => (
          <li key={message.id} data-type={message.type}>
            {text(message)}
          </li>
        ))}
      </ol>
      <p id="status">{thread.isLoading ? "streaming" : "idle"}</p>
      {thread.error ? <p id="error">{String(thread.error)}</p> : null}
      {thread.interrupt ? (
        <div id="interrupt">
          <p id="question">{thread.interrupt.value.question}</p>
          <button
            id="approve"
            type="button"
            onClick={() => thread.submit(undefined, { command: { resume: true } })}
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
      </form>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);

// Generative UI as Agent Chat UI renders it: useStream keeps the thread's `ui` messages (from
// its state, and from custom events as they come), and each AI message shows the components
// tied to it with LoadExternalComponent, which fetches them from the gateway's /ui. The address
// may carry the assistant (?assistant=) and an API key (?key=).
import { useStream } from "@langchain/langgraph-sdk/react";
import {
  LoadExternalComponent,
  isRemoveUIMessage,
  isUIMessage,
  uiMessageReducer,
} from "@langchain/langgraph-sdk/react-ui";
import { useState } from "react";
import { createRoot } from "react-dom/client";

const query = new URLSearchParams(location.search);

function App() {
  const thread = useStream({
    apiUrl: `${location.origin}/langgraph`,
    apiKey: query.get("key") ?? undefined,
    assistantId: query.get("assistant") ?? "weather",
    onCustomEvent: (event, options) => {
      if (isUIMessage(event) || isRemoveUIMessage(event)) {
        options.mutate((prev) => ({ ...prev, ui: uiMessageReducer(prev.ui ?? [], event) }));
      }
    },
  });
  const [draft, setDraft] = useState("");
  const send = (event) => {
    event.preventDefault();
    thread.submit({ messages: [{ type: "human", content: draft }] });
    setDraft("");
  };
  const ui = thread.values.ui ?? [];
  return (
    <main>
      <ol id="messages">
        {thread.messages.map((message) => (
          <li key={message.id} data-type={message.type}>
            <p className="text">{String(message.content)}</p>
            {ui
              .filter((item) => item.metadata?.message_id === message.id)
              .map((item) => (
                <LoadExternalComponent
                  key={item.id}
                  className="component"
                  stream={thread}
                  message={item}
                  fallback={<p className="loading">loading…</p>}
                />
              ))}
          </li>
        ))}
      </ol>
      <p id="status">{thread.isLoading ? "streaming" : "idle"}</p>
      {thread.error ? <p id="error">{String(thread.error)}</p> : null}
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

// A minimal chat on the AI SDK's useChat (DefaultChatTransport) against /ai-sdk/chat.
// The address carries the chat (?chat=, so a reload goes back to it) and the demo graph's
// options (tokens, token_delay, approve, fail), sent as the body's `input`. As apps persist a
// chat, the page keeps its messages in sessionStorage, less the answer being written: after a
// reload, `resume: true` asks the gateway for that answer, which it replays whole.
import { useChat } from "@ai-sdk/react";
import { DefaultChatTransport, lastAssistantMessageIsCompleteWithApprovalResponses } from "ai";
import { useEffect, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";

const query = new URLSearchParams(location.search);
if (!query.get("chat")) {
  query.set("chat", crypto.randomUUID().replaceAll("-", ""));
  history.replaceState(null, "", `?${query}`);
}
const chatId = query.get("chat");
const stored = `chat:${chatId}`;
// Read at each request, so a test may change them in the address between messages.
function input() {
  const now = new URLSearchParams(location.search);
  return {
    tokens: Number(now.get("tokens") ?? 12),
    token_delay: Number(now.get("token_delay") ?? 0.02),
    delay: Number(now.get("delay") ?? 0.01),
    approve: now.get("approve") === "1",
    fail: now.get("fail") ?? "",
  };
}
// Every request the chat makes, for the tests to count.
window.__requests = [];

function Part({ part }) {
  if (part.type === "text") return <p className="text" data-state={part.state}>{part.text}</p>;
  if (part.type === "step-start") return <hr />;
  if (part.type === "dynamic-tool" || part.type.startsWith("tool-")) {
    return (
      <div className="tool" data-tool={part.toolName} data-state={part.state} data-call={part.toolCallId}>
        <code className="input">{JSON.stringify(part.input ?? null)}</code>
        {part.state === "output-available" ? (
          <code className="output">{JSON.stringify(part.output)}</code>
        ) : null}
      </div>
    );
  }
  if (part.type.startsWith("data-")) {
    return <pre className="data" data-type={part.type} data-id={part.id}>{JSON.stringify(part.data)}</pre>;
  }
  return null;
}

function App() {
  const transport = useMemo(
    () =>
      new DefaultChatTransport({
        api: "/ai-sdk/chat",
        body: () => ({ input: input() }),
        fetch: (url, init) => {
          window.__requests.push(`${init?.method ?? "GET"} ${new URL(url, location.href).pathname}`);
          return fetch(url, init);
        },
      }),
    [],
  );
  const { messages, sendMessage, status, error, addToolApprovalResponse } = useChat({
    id: chatId,
    messages: JSON.parse(sessionStorage.getItem(stored) ?? "[]"),
    transport,
    resume: true,
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
  });
  useEffect(() => {
    const writing = (status === "streaming" || status === "submitted") && messages.at(-1)?.role === "assistant";
    sessionStorage.setItem(stored, JSON.stringify(writing ? messages.slice(0, -1) : messages));
  }, [messages, status]);
  const [draft, setDraft] = useState("");
  const send = (event) => {
    event.preventDefault();
    sendMessage({ text: draft });
    setDraft("");
  };
  const asking = messages
    .flatMap((m) => m.parts)
    .filter((p) => p.state === "approval-requested");
  return (
    <main>
      <ol id="messages">
        {messages.map((message) => (
          <li key={message.id} data-role={message.role} data-id={message.id}>
            {message.parts.map((part, index) => (
              <Part key={index} part={part} />
            ))}
          </li>
        ))}
      </ol>
      {asking.map((part) => (
        <div className="approval" key={part.approval.id} data-id={part.approval.id}>
          <button className="approve" type="button" onClick={() => addToolApprovalResponse({ id: part.approval.id, approved: true })}>
            Approve {part.toolName}
          </button>
          <button className="deny" type="button" onClick={() => addToolApprovalResponse({ id: part.approval.id, approved: false })}>
            Deny
          </button>
        </div>
      ))}
      <p id="status">{status}</p>
      {error ? <p id="error">{error.message}</p> : null}
      <form onSubmit={send}>
        <input id="draft" value={draft} onChange={(event) => setDraft(event.target.value)} />
        <button id="send" type="submit">Send</button>
      </form>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);

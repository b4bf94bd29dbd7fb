// The AI SDK's own client code against /ai-sdk/chat serving the demo graph.
// 1. One answer read part by part: every part through the SDK's parser and its strict schema
//    of UI message chunks, then its reader builds the message.
// 2. A chat through the SDK's Chat (what useChat drives): a first message, a turn that asks
//    for approval and is approved with addToolApprovalResponse (sendAutomaticallyWhen sends
//    the answer), a turn whose node fails, and one more message after it.
// Prints one JSON object for the test to check.
import { Chat } from "@ai-sdk/react";
import {
  DefaultChatTransport,
  lastAssistantMessageIsCompleteWithApprovalResponses,
  parseJsonEventStream,
  readUIMessageStream,
  uiMessageChunkSchema,
} from "ai";

const [base, readerChat, chatId] = process.argv.slice(2);
const api = `${base}/ai-sdk/chat`;
const quick = { delay: 0.01, tokens: 6, token_delay: 0.01 };

async function readAnswer(response) {
  const parts = [];
  const errors = [];
  const stream = parseJsonEventStream({ stream: response.body, schema: uiMessageChunkSchema })
    .pipeThrough(new TransformStream({
      transform(chunk, controller) {
        if (!chunk.success) throw chunk.error; // a part the SDK's schema refuses
        parts.push(structuredClone(chunk.value)); // the reader updates parts in place
        controller.enqueue(chunk.value);
      },
    }));
  let message = null;
  const messages = readUIMessageStream({ stream, onError: (e) => errors.push(String(e?.message ?? e)) });
  for await (const state of messages) message = state;
  return { parts, message, errors };
}

const reader = await readAnswer(await fetch(api, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({
    id: readerChat,
    messages: [{ id: "u-1", role: "user", parts: [{ type: "text", text: "hello" }] }],
    trigger: "submit-message",
    input: quick,
  }),
}));

let input = quick;
const requests = [];
const chat = new Chat({
  id: chatId,
  transport: new DefaultChatTransport({
    api,
    body: () => ({ input }),
    fetch: (url, init) => {
      requests.push(`${init?.method ?? "GET"} ${new URL(url).pathname}`);
      return fetch(url, init);
    },
  }),
  sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
});
const errors = [];

async function settled() {
  // The automatic send after an approval runs on its own: wait until the chat is idle again.
  for (let i = 0; i < 600 && (chat.status === "submitted" || chat.status === "streaming"); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

await chat.sendMessage({ text: "hello" });
input = { ...quick, approve: true };
await chat.sendMessage({ text: "look it up" });
const asked = structuredClone(chat.messages.at(-1));
const request = asked.parts.find((p) => p.state === "approval-requested");
await chat.addToolApprovalResponse({ id: request.approval.id, approved: true });
await new Promise((resolve) => setTimeout(resolve, 100));
await settled();
input = { ...quick, approve: false, fail: "merge" };
await chat.sendMessage({ text: "fail please" });
errors.push(chat.error ? String(chat.error.message) : null);
input = { ...quick, approve: false, fail: "" };
await chat.sendMessage({ text: "and after" });
await settled();

console.log(JSON.stringify({
  reader,
  asked,
  messages: chat.messages,
  requests,
  errors,
  status: chat.status,
}));

// One chat message through the AI SDK's own client code, against any useChat backend: the
// answer read part by part (the SDK's parser, its strict schema of parts, its reader), the ids
// the stream gave, then useChat's resume (GET <api>/<chatId>/stream) of the same chat.
// Usage: node ai_sdk_read.mjs API CHAT_ID TOKENS. Prints one JSON object.
import { DefaultChatTransport, readUIMessageStream } from "ai";

const [api, chatId, tokens] = process.argv.slice(2);
const ids = [];
const reading = [];
// DefaultChatTransport reads the stream; the ids it does not keep are counted on the way.
const transport = new DefaultChatTransport({
  api,
  body: { input: { tokens: Number(tokens), token_delay: 0.01, delay: 0.01 } },
  fetch: async (url, init) => {
    const response = await fetch(url, init);
    if (!response.body) return response;
    const [mine, theirs] = response.body.tee();
    reading.push((async () => {
      const decoder = new TextDecoder();
      let text = "";
      for await (const chunk of mine) text += decoder.decode(chunk, { stream: true });
      for (const line of text.split("\n")) if (line.startsWith("id: ")) ids.push(line.slice(4));
    })());
    return new Response(theirs, { status: response.status, headers: response.headers });
  },
});
const question = { id: "u-1", role: "user", parts: [{ type: "text", text: "hello" }] };
const parts = [];
const stream = await transport.sendMessages({
  chatId,
  messages: [question],
  trigger: "submit-message",
  messageId: undefined,
  abortSignal: undefined,
});
const counted = stream.pipeThrough(new TransformStream({
  transform(part, controller) {
    parts.push(structuredClone(part));
    controller.enqueue(part);
  },
}));
const errors = [];
let message = null;
for await (const state of readUIMessageStream({ stream: counted, onError: (e) => errors.push(String(e)) })) {
  message = state;
}
await Promise.all(reading);
let resumed;
try {
  resumed = (await transport.reconnectToStream({ chatId })) === null ? "nothing to resume" : "a stream";
} catch (error) {
  resumed = `refused: ${error.statusCode ?? error.message}`;
}
console.log(JSON.stringify({ parts, message, errors, ids, resumed }));

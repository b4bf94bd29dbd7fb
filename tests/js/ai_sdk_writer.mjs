// The AI SDK's own stream writer, as a Node backend for useChat writes it: createUIMessageStream
// and pipeUIMessageStreamToResponse, answering POST /api/chat with a reply of `input.tokens`
// text deltas (`input.token_delay` seconds apart). The peer the gateway's /ai-sdk/chat is run
// against side by side, and measured against. Usage: node ai_sdk_writer.mjs PORT
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { createUIMessageStream, generateId, pipeUIMessageStreamToResponse } from "ai";

const port = Number(process.argv[2]);
const words = ("Server-sent events keep one HTTP response open and push named, numbered events "
  + "down it.").split(" ");

async function answer(request, response) {
  let raw = "";
  for await (const chunk of request) raw += chunk;
  const body = JSON.parse(raw || "{}");
  const tokens = Number(body.input?.tokens ?? 10);
  const delay = Number(body.input?.token_delay ?? 0);
  const stream = createUIMessageStream({
    originalMessages: body.messages ?? [],
    generateId,
    async execute({ writer }) {
      writer.write({ type: "start" });
      writer.write({ type: "start-step" });
      writer.write({ type: "text-start", id: "text-1" });
      for (let i = 0; i < tokens; i++) {
        writer.write({ type: "text-delta", id: "text-1", delta: `${i ? " " : ""}${words[i % words.length]}` });
        if (delay) await sleep(delay * 1000);
      }
      writer.write({ type: "text-end", id: "text-1" });
      writer.write({ type: "finish-step" });
      writer.write({ type: "finish", finishReason: "stop" });
    },
  });
  pipeUIMessageStreamToResponse({ response, stream });
}

http
  .createServer((request, response) => {
    const path = new URL(request.url, "http://localhost").pathname;
    if (request.method === "POST" && path === "/api/chat") return answer(request, response);
    if (request.method === "GET" && path === "/healthz") return response.end("ok");
    response.writeHead(404, { "content-type": "application/json" });
    response.end(JSON.stringify({ error: "not_found" }));
  })
  .listen(port, "127.0.0.1");

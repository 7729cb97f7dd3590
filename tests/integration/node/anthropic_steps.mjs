// Runs a list of requests through the official Anthropic SDK and prints, as
// one JSON array, what each returned: the answer text and the X-Omnicache
// headers.
//
//   node anthropic_steps.mjs BASE_URL '[{"op": "message", "model": "claude-3-5-haiku", "text": "Hi"}, ...]'
//
// ops: message, message_stream (stream: true, the text deltas joined),
// message_final (messages.stream() and its final message).
import Anthropic from "@anthropic-ai/sdk";

const [baseURL, stepsJson] = process.argv.slice(2);
const client = new Anthropic({
  baseURL,
  apiKey: process.env.ANTHROPIC_API_KEY || "sk-ant-test",
  maxRetries: 0,
  timeout: 60000,
});

function headersOf(response) {
  return {
    cache: response.headers.get("x-omnicache"),
    key: response.headers.get("x-omnicache-key"),
    status: response.status,
  };
}

async function run(step) {
  const request = { model: step.model, max_tokens: 64, messages: [{ role: "user", content: step.text }] };
  if (step.op === "message") {
    const { data, response } = await client.messages.create(request).withResponse();
    const content = data.content.map((b) => b.text).join("");
    return { ...headersOf(response), id: data.id, content, usage: data.usage };
  }
  if (step.op === "message_stream") {
    const { data, response } = await client.messages.create({ ...request, stream: true }).withResponse();
    let content = "";
    const events = [];
    for await (const event of data) {
      events.push(event.type);
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
        content += event.delta.text;
      }
    }
    return { ...headersOf(response), content, events };
  }
  if (step.op === "message_final") {
    const stream = client.messages.stream(request);
    const { response } = await stream.withResponse();
    const message = await stream.finalMessage();
    return { ...headersOf(response), content: message.content.map((b) => b.text).join(""), stop: message.stop_reason };
  }
  throw new Error(`unknown op ${step.op}`);
}

const results = [];
for (const step of JSON.parse(stepsJson)) {
  try {
    results.push(await run(step));
  } catch (error) {
    results.push({ error: String(error), status: error.status ?? null });
  }
}
process.stdout.write(JSON.stringify(results) + "\n");

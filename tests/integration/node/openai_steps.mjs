// Runs a list of requests through the official OpenAI SDK and prints, as one
// JSON array, what each returned: the answer text or vectors and the
// X-Omnicache headers.
//
//   node openai_steps.mjs BASE_URL '[{"op": "chat", "model": "gpt-4o", "text": "Hi"}, ...]'
//
// ops: chat, chat_stream (stream: true, the deltas joined), embeddings.
import OpenAI from "openai";

const [baseURL, stepsJson] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: process.env.OPENAI_API_KEY || "sk-test", maxRetries: 0, timeout: 60000 });

function headersOf(response) {
  return {
    cache: response.headers.get("x-omnicache"),
    key: response.headers.get("x-omnicache-key"),
    cached: response.headers.get("x-omnicache-cached"),
    status: response.status,
  };
}

async function run(step) {
  const messages = [{ role: "user", content: step.text }];
  if (step.op === "chat") {
    const { data, response } = await client.chat.completions.create({ model: step.model, messages }).withResponse();
    return { ...headersOf(response), id: data.id, content: data.choices[0].message.content, usage: data.usage };
  }
  if (step.op === "chat_stream") {
    const request = { model: step.model, messages, stream: true };
    if (step.include_usage) {
      request.stream_options = { include_usage: true };
    }
    const { data, response } = await client.chat.completions.create(request).withResponse();
    let content = "";
    let chunks = 0;
    let usage = null;
    for await (const chunk of data) {
      chunks += 1;
      content += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage ?? usage;
    }
    return { ...headersOf(response), content, chunks, usage };
  }
  if (step.op === "embeddings") {
    const request = { model: step.model, input: step.input };
    if (step.encoding_format) {
      request.encoding_format = step.encoding_format;
    }
    const { data, response } = await client.embeddings.create(request).withResponse();
    return { ...headersOf(response), vectors: data.data.map((d) => Array.from(d.embedding)), usage: data.usage };
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

// The chat page: talks to the same /v1 routes as every other client, keeps the conversation
// in this browser (localStorage) and an API key in this tab only (sessionStorage).
"use strict";

const STORE = "mlxfn-chat";
const KEY = "mlxfn-api-key";
const $ = (id) => document.getElementById(id);

const saved = JSON.parse(localStorage.getItem(STORE) || "{}");
const state = {
  turns: Array.isArray(saved.turns) ? saved.turns : [],
  settings: { system: "", temperature: 0.7, maxTokens: "", model: "", ...saved.settings },
};
let running = null; // the AbortController of the reply being streamed

function persist() {
  localStorage.setItem(STORE, JSON.stringify(state));
}

function say(text) {
  $("status").textContent = text;
}

function headers() {
  const key = sessionStorage.getItem(KEY);
  const out = { "Content-Type": "application/json" };
  if (key) out.Authorization = `Bearer ${key}`;
  return out;
}

// A 401 asks for a key once, then the caller tries again.
function askForKey() {
  return new Promise((resolve) => {
    const dialog = $("key-dialog");
    $("key-form").onsubmit = () => {
      sessionStorage.setItem(KEY, $("api-key").value.trim());
      resolve();
    };
    dialog.showModal();
    $("api-key").focus();
  });
}

async function call(path, options = {}) {
  for (;;) {
    const response = await fetch(path, { ...options, headers: headers() });
    if (response.status !== 401) return response;
    await askForKey();
  }
}

async function loadModels() {
  const response = await call("/v1/models");
  const select = $("model");
  select.replaceChildren();
  for (const model of (await response.json()).data) {
    const option = document.createElement("option");
    option.value = option.textContent = model.id;
    select.append(option);
  }
  if ([...select.options].some((o) => o.value === state.settings.model)) {
    select.value = state.settings.model;
  }
  say(`${select.options.length} model(s) served`);
}

function renderToolCalls(box, calls) {
  box.replaceChildren();
  for (const call of calls || []) {
    const block = document.createElement("pre");
    block.className = "tool-call";
    block.textContent = `${call.name || "?"}(${call.arguments || ""})`;
    box.append(block);
  }
}

function renderTurn(turn, index) {
  const node = $("turn-template").content.firstElementChild.cloneNode(true);
  node.classList.add(turn.role);
  node.dataset.index = index;
  node.querySelector(".role").textContent = turn.role;
  node.querySelector(".content").textContent = turn.content;
  if (turn.reasoning) {
    const reasoning = node.querySelector(".reasoning");
    reasoning.hidden = false;
    reasoning.querySelector("pre").textContent = turn.reasoning;
  }
  renderToolCalls(node.querySelector(".tools"), turn.toolCalls);
  node.querySelector(".stats").textContent = turn.stats || "";
  if (turn.role === "user") {
    const edit = node.querySelector(".edit");
    edit.hidden = false;
    edit.setAttribute("aria-label", `Edit message ${index + 1} and resend`);
    edit.onclick = () => editFrom(index);
  }
  return node;
}

function render() {
  $("conversation").replaceChildren(...state.turns.map(renderTurn));
}

function editFrom(index) {
  if (running) return;
  $("prompt").value = state.turns[index].content;
  state.turns = state.turns.slice(0, index);
  persist();
  render();
  $("prompt").focus();
}

function requestBody() {
  const messages = [];
  if (state.settings.system.trim()) {
    messages.push({ role: "system", content: state.settings.system });
  }
  for (const turn of state.turns.slice(0, -1)) {
    const calls = (turn.toolCalls || []).map((c) => `${c.name}(${c.arguments})`).join("\n");
    messages.push({ role: turn.role, content: turn.content || calls });
  }
  const body = {
    model: $("model").value,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    temperature: Number(state.settings.temperature),
  };
  // Left empty, the server's default applies: capped by the room left in the context.
  if (String(state.settings.maxTokens).trim()) body.max_tokens = Number(state.settings.maxTokens);
  return body;
}

// Server-sent events: "data: {json}" lines, "data: [DONE]" at the end.
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const frame = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      for (const line of frame.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}

function apply(turn, chunk, clock) {
  if (chunk.error) throw new Error(chunk.error.message);
  if (chunk.usage) {
    const cached = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
    clock.usage = chunk.usage;
    clock.cached = cached;
  }
  const delta = chunk.choices?.[0]?.delta;
  if (!delta) return;
  const thinking = delta.reasoning_content ?? delta.reasoning;
  if (thinking) turn.reasoning = (turn.reasoning || "") + thinking;
  if (delta.content) {
    turn.content += delta.content;
    clock.pieces += 1;
  }
  for (const call of delta.tool_calls || []) {
    turn.toolCalls = turn.toolCalls || [];
    const slot = (turn.toolCalls[call.index ?? 0] ||= { name: "", arguments: "" });
    if (call.function?.name) slot.name += call.function.name;
    if (call.function?.arguments) slot.arguments += call.function.arguments;
    clock.pieces += 1;
  }
  if (clock.first === null && (delta.content || thinking || delta.tool_calls)) {
    clock.first = performance.now();
  }
}

function describe(clock, stopped) {
  const tokens = clock.usage?.completion_tokens ?? clock.pieces;
  const seconds = clock.first === null ? 0 : (performance.now() - clock.first) / 1000;
  const rate = seconds > 0 && tokens > 1 ? ((tokens - 1) / seconds).toFixed(1) : "-";
  const parts = [`${tokens} tokens`, `${rate} tok/s`];
  if (clock.usage) parts.push(`prompt cache: ${clock.cached} of ${clock.usage.prompt_tokens}`);
  if (stopped) parts.push("stopped");
  return parts.join(" · ");
}

async function reply() {
  const turn = { role: "assistant", content: "" };
  state.turns.push(turn);
  render();
  const clock = { first: null, pieces: 0, usage: null, cached: 0 };
  running = new AbortController();
  $("send").hidden = true;
  $("stop").hidden = false;
  say("generating…");
  let stopped = false;
  try {
    const response = await call("/v1/chat/completions", {
      method: "POST",
      body: JSON.stringify(requestBody()),
      signal: running.signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error?.message || `HTTP ${response.status}`);
    }
    for await (const chunk of events(response)) {
      apply(turn, chunk, clock);
      const fresh = renderTurn(turn, state.turns.length - 1);
      fresh.querySelector(".stats").textContent = describe(clock, false);
      $("conversation").lastElementChild.replaceWith(fresh);
    }
    say("");
  } catch (error) {
    stopped = error.name === "AbortError";
    say(stopped ? "stopped" : `error: ${error.message}`);
  } finally {
    turn.stats = describe(clock, stopped);
    running = null;
    $("send").hidden = false;
    $("stop").hidden = true;
    persist();
    render();
  }
}

$("composer").onsubmit = (event) => {
  event.preventDefault();
  const text = $("prompt").value;
  if (!text.trim() || running) return;
  $("prompt").value = "";
  state.turns.push({ role: "user", content: text });
  persist();
  reply();
};
$("prompt").onkeydown = (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
};
$("stop").onclick = () => running?.abort();
$("new-chat").onclick = () => {
  if (running) running.abort();
  state.turns = [];
  persist();
  render();
  $("prompt").focus();
};
for (const [id, field] of [["system", "system"], ["temperature", "temperature"],
                           ["max-tokens", "maxTokens"], ["model", "model"]]) {
  const input = $(id);
  if (id !== "model") input.value = state.settings[field];
  input.onchange = () => {
    state.settings[field] = input.value;
    persist();
  };
}

render();
loadModels().catch((error) => say(`cannot list models: ${error.message}`));

// The bundled page: a start button, the live transcript, a text box.
// Query options (mostly for tests): ?echoCancellation=0&noiseSuppression=0&autoGainControl=0
// &capture=1&microphone=0. The client is window.voiceagent once started.

import { VoiceAgentClient } from "./voiceagent.js";

function flag(params, name, fallback) {
  const value = params.get(name);
  return value === null ? fallback : !["0", "false", "no", "off"].includes(value);
}

export function startPage(wsPath) {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const lines = new Map(); // item_id -> {el, text}
  let client = null;

  const state = (text) => ($("state").textContent = text);

  function line(role, itemId) {
    const key = `${role}:${itemId}`;
    let entry = lines.get(key);
    if (!entry) {
      const el = document.createElement("div");
      el.className = `line ${role} partial`;
      el.dataset.item = itemId;
      el.dataset.role = role;
      el.innerHTML = `<span class="who">${role === "user" ? "You" : "Agent"}</span><span class="text"></span>`;
      $("transcript").append(el);
      entry = { el, text: "" };
      lines.set(key, entry);
    }
    return entry;
  }

  function note(text) {
    const el = document.createElement("div");
    el.className = "note";
    el.textContent = text;
    $("transcript").append(el);
  }

  function onTranscript({ detail: m }) {
    const entry = line(m.role, m.item_id);
    if (m.final) {
      entry.text = m.text;
      entry.el.classList.remove("partial");
      entry.el.classList.toggle("interrupted", !!m.interrupted);
    } else {
      entry.text += m.delta;
    }
    entry.el.querySelector(".text").textContent = entry.text;
  }

  async function start() {
    $("start").disabled = true;
    state("connecting…");
    client = new VoiceAgentClient(wsPath, {
      echoCancellation: flag(params, "echoCancellation", true),
      noiseSuppression: flag(params, "noiseSuppression", true),
      autoGainControl: flag(params, "autoGainControl", true),
      microphone: flag(params, "microphone", true),
      capture: flag(params, "capture", false),
    });
    window.voiceagent = client;
    client.addEventListener("ready", () => {
      state("listening");
      $("text").disabled = $("send").disabled = false;
    });
    client.addEventListener("transcript", onTranscript);
    client.addEventListener("state", ({ detail }) => state(detail.state.replace("_", " ")));
    client.addEventListener("turn", ({ detail }) => ($("latency").textContent = `· ${detail.latency_ms} ms`));
    client.addEventListener("interrupted", () => note("(interrupted)"));
    client.addEventListener("tool", ({ detail }) => {
      if (detail.status === "started") note(`(using ${detail.name}…)`);
    });
    client.addEventListener("ended", ({ detail }) => note(`conversation ended (${detail.reason})`));
    client.addEventListener("closed", ({ detail }) => {
      state(detail.code === 1000 ? "ended" : `closed: ${detail.reason || detail.code}`);
      $("hangup").disabled = true;
      $("text").disabled = $("send").disabled = true;
      $("start").disabled = false;
    });
    try {
      await client.start();
      $("hangup").disabled = false;
    } catch (error) {
      state(`could not start: ${error.message}`);
      $("start").disabled = false;
    }
  }

  $("start").addEventListener("click", start);
  $("hangup").addEventListener("click", () => client && client.hangUp());
  $("chat").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value.trim();
    if (!text || !client) return;
    client.sendText(text);
    const el = document.createElement("div");
    el.className = "line user";
    el.innerHTML = `<span class="who">You</span><span class="text"></span>`;
    el.querySelector(".text").textContent = text;
    $("transcript").append(el);
    $("text").value = "";
  });
}

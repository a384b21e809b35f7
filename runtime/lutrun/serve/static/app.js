// The live page: one WebSocket (/api/ws) brings results (JSON), status (JSON, once a second) and
// preview frames (binary, little-endian: "LRPV", uint16 height, width, channels, uint32 sequence number,
// uint16 predicted class, then the pixels).
"use strict";
const $ = (id) => document.getElementById(id);
let retryMs = 500;

function showResult(r) {
  $("prediction").textContent = r.class;
  const top = Math.max(1, ...r.scores);
  const rows = r.scores.map((s, i) =>
    `<div class="score${i === r.class_index ? " top" : ""}"><span class="name">${escapeHtml(r.class_names[i])}</span>` +
    `<span class="bar" style="width:${(150 * Math.max(0, s)) / top}px"></span><span>${s}</span></div>`);
  $("scores").innerHTML = rows.join("");
}

function showStatus(s) {
  classNames = s.model.classes;
  $("model").textContent = `${s.model.name} · ${s.model.digest} · ${s.model.luts} LUTs · F=${s.model.frames}`;
  const e = s.engine;
  $("engine").textContent = `engine ${e.engine}${e.specialised ? " (specialised)" : ""}` + (e.note ? " · fallback" : "");
  $("engine").title = e.note || "";
  $("engine").className = e.note ? "bad" : "";
  $("fps").textContent = s.fps.toFixed(0);
  $("frames").textContent = s.frames;
  $("dropped").textContent = s.dropped;
  $("latency").textContent = `${s.e2e_p50_ms.toFixed(3)} / ${s.e2e_p99_ms.toFixed(3)} ms`;
  $("reconnects").textContent = s.reconnects;
  $("swaps").textContent = `${s.model_swaps} (${s.model_swap_failures} rejected)`;
  $("mqtt").textContent = s.mqtt ? `${s.mqtt.connected ? "connected" : "away"}, ${s.mqtt.sent} sent, ` +
    `${s.mqtt.buffered} buffered, ${s.mqtt.dropped} dropped` : "off";
  const src = s.sources.map((x) => `${x.source}: ${x.state}`).join(", ") || "no source";
  $("source").textContent = s.stream_error ? `${src} (${s.stream_error})` : src;
  $("source").className = s.sources.every((x) => x.state === "streaming") ? "" : "bad";
  showHistogram(s.histogram);
}

function showHistogram(h) {
  const most = Math.max(1, ...h.counts);
  const labels = [...h.edges_ms.map((e) => `≤${e}`), "more"];
  $("histogram").innerHTML = h.counts.map((c, i) =>
    `<div style="height:${(85 * c) / most + 1}px" title="${labels[i]} ms: ${c}"><span>${i % 3 === 0 ? labels[i] : ""}</span></div>`).join("");
}

let classNames = [];

function showPreview(buffer) {
  const view = new DataView(buffer);
  const h = view.getUint16(4, true), w = view.getUint16(6, true), c = view.getUint16(8, true);
  const seq = view.getUint32(10, true), predicted = view.getUint16(14, true);
  const pixels = new Uint8Array(buffer, 16);
  $("preview-caption").textContent = `frame ${seq} → ${classNames[predicted] ?? predicted}`;
  const canvas = $("preview");
  const off = new OffscreenCanvas(w, h);
  const image = off.getContext("2d").createImageData(w, h);
  for (let i = 0, j = 0; i < w * h; i++, j += c) {
    const gray = c === 1;
    image.data[4 * i] = gray ? pixels[j] : pixels[j + 2];  // OpenCV frames are BGR
    image.data[4 * i + 1] = gray ? pixels[j] : pixels[j + 1];
    image.data[4 * i + 2] = pixels[j];
    image.data[4 * i + 3] = 255;
  }
  off.getContext("2d").putImageData(image, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => { retryMs = 500; $("connection").textContent = "live"; $("connection").className = "good"; };
  ws.onmessage = (event) => {
    if (typeof event.data !== "string") { showPreview(event.data); return; }
    const message = JSON.parse(event.data);
    if (message.type === "result") showResult(message);
    else if (message.type === "status") showStatus(message);
  };
  ws.onclose = () => {
    $("connection").textContent = "reconnecting…";
    $("connection").className = "bad";
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 8000);
  };
}

connect();

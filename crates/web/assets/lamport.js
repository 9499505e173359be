// The Lamport view: a recorded run (`sister lamport sim --record run.json`, then
// `sister web --lamport run.json`, or a file dropped here) as a space-time diagram.
//
// One horizontal line per process, time to the right; each event a dot labelled with its Lamport
// clock; each message an arrow from the send to the receive. Click an event to see what happened
// before it (its causal past, by vector clocks: e -> f iff V(e) <= V(f) and V(e) != V(f)) and what
// is concurrent with it (neither before nor after): Lamport clocks alone cannot tell the two apart,
// which is the lesson (L(e) < L(f) does not mean e happened before f).
"use strict";

(() => {
  const { el, t, api } = Sister;
  const NS = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs, ...children) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };

  Sister.strings({
    en: {
      "lamport.none": "No Lamport run loaded. Record one with `sister lamport sim --record run.json` and start `sister web --lamport run.json`, or choose the file here.",
      "lamport.open": "Open a recorded run",
      "lamport.summary": "{n} processes, {e} events, {m} messages (seed {seed})",
      "lamport.hint": "Click an event: its causal past is blue, its future green, what is concurrent with it grey.",
      "lamport.event": "P{p} event {seq}: {kind}, Lamport clock {l}, vector clock [{v}]",
      "lamport.counts": "happened before it: {before} · after it: {after} · concurrent: {conc}",
      "lamport.local": "local", "lamport.send": "send to P{to}", "lamport.receive": "receive from P{from}",
      "lamport.bad": "Not a recorded Lamport run: {why}",
    },
    id: {
      "lamport.none": "Belum ada rekaman Lamport. Rekam dengan `sister lamport sim --record run.json` lalu jalankan `sister web --lamport run.json`, atau pilih berkasnya di sini.",
      "lamport.open": "Buka rekaman",
      "lamport.summary": "{n} proses, {e} kejadian, {m} pesan (seed {seed})",
      "lamport.hint": "Klik sebuah kejadian: masa lalu kausalnya biru, masa depannya hijau, yang konkuren abu-abu.",
      "lamport.event": "P{p} kejadian {seq}: {kind}, jam Lamport {l}, jam vektor [{v}]",
      "lamport.counts": "terjadi sebelumnya: {before} · sesudahnya: {after} · konkuren: {conc}",
      "lamport.local": "lokal", "lamport.send": "kirim ke P{to}", "lamport.receive": "terima dari P{from}",
      "lamport.bad": "Bukan rekaman Lamport: {why}",
    },
  });

  let root, body, run = null;

  // V(a) <= V(b) component-wise and not equal: a happened before b (Fidge/Mattern).
  function before(a, b) {
    let strict = false;
    for (let i = 0; i < a.vector.length; i++) {
      if (a.vector[i] > b.vector[i]) return false;
      if (a.vector[i] < b.vector[i]) strict = true;
    }
    return strict;
  }

  function kindText(e) {
    if (e.kind === "send") return t("lamport.send", { to: e.to + 1 });
    if (e.kind === "receive") return t("lamport.receive", { from: e.from + 1 });
    return t("lamport.local");
  }

  function check(r) {
    if (!r || !Array.isArray(r.events) || !Array.isArray(r.messages) || !(r.processes >= 1)) {
      throw new Error("expected {processes, events, messages}");
    }
    return r;
  }

  function draw() {
    body.replaceChildren();
    if (!run) {
      body.append(el("p", { class: "muted", id: "lamport-none" }, t("lamport.none")));
      return;
    }
    const n = run.processes;
    const steps = run.events.reduce((m, e) => Math.max(m, e.step), 0) + 1;
    const dx = Math.max(28, Math.min(60, 1100 / steps)), left = 50, top = 30, dy = 80;
    const width = left + steps * dx + 30, height = top + (n - 1) * dy + 40;
    const x = (e) => left + e.step * dx + dx / 2;
    const y = (p) => top + p * dy;
    const picture = svg("svg", { id: "lamport-diagram", width, height, viewBox: `0 0 ${width} ${height}` });
    picture.append(svg("defs", {}, svg("marker", { id: "lamport-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#555" }))));
    for (let p = 0; p < n; p++) {
      picture.append(svg("text", { x: 8, y: y(p) + 4, class: "lamport-proc" }, `P${p + 1}`));
      picture.append(svg("line", { x1: left, y1: y(p), x2: width - 20, y2: y(p), class: "lamport-line" }));
    }
    for (const m of run.messages) {
      const s = run.events[m.send_event], r = run.events[m.receive_event];
      if (!s || !r) continue;
      picture.append(svg("line", { x1: x(s), y1: y(s.pid), x2: x(r), y2: y(r.pid) + (r.pid > s.pid ? -7 : 7), class: "lamport-msg", "marker-end": "url(#lamport-arrow)" },
        svg("title", {}, `m${m.id}: P${m.from + 1} -> P${m.to + 1}, timestamp ${m.timestamp}`)));
    }
    const detail = el("p", { id: "lamport-detail" }, t("lamport.hint"));
    run.events.forEach((e, i) => {
      const g = svg("g", { class: "lamport-event", "data-index": i, tabindex: 0 },
        svg("circle", { cx: x(e), cy: y(e.pid), r: 6 }),
        svg("text", { x: x(e), y: y(e.pid) - 11, "text-anchor": "middle" }, e.lamport),
        svg("title", {}, t("lamport.event", { p: e.pid + 1, seq: e.seq, kind: kindText(e), l: e.lamport, v: e.vector.join(", ") })));
      g.addEventListener("click", () => select(picture, detail, i));
      picture.append(g);
    });
    body.append(el("p", {}, t("lamport.summary", { n, e: run.events.length, m: run.messages.length, seed: run.seed })),
      el("div", { class: "lamport-scroll" }, picture), detail);
  }

  function select(picture, detail, i) {
    const e = run.events[i];
    let b = 0, a = 0, c = 0;
    for (const g of picture.querySelectorAll(".lamport-event")) {
      const f = run.events[+g.dataset.index];
      const cls = f === e ? "selected" : before(f, e) ? "past" : before(e, f) ? "future" : "concurrent";
      if (cls === "past") b++; else if (cls === "future") a++; else if (cls === "concurrent") c++;
      g.setAttribute("class", `lamport-event ${cls}`);
    }
    detail.textContent = `${t("lamport.event", { p: e.pid + 1, seq: e.seq, kind: kindText(e), l: e.lamport, v: e.vector.join(", ") })} — ${t("lamport.counts", { before: b, after: a, conc: c })}`;
  }

  async function load() {
    try {
      run = check(await api("/api/lamport"));
    } catch (_) {
      run = null; // 404: nothing recorded; the page says how to record one.
    }
    draw();
  }

  Sister.view("lamport", {
    init(r, info) {
      root = r;
      const input = el("input", { type: "file", accept: ".json,application/json", id: "lamport-file" });
      input.addEventListener("change", async () => {
        const f = input.files[0];
        if (!f) return;
        try {
          run = check(JSON.parse(await f.text()));
          draw();
        } catch (e) {
          body.replaceChildren(el("p", { class: "error" }, t("lamport.bad", { why: e.message })));
        }
      });
      body = el("div", { id: "lamport-body" });
      root.append(el("label", { class: "lamport-open" }, t("lamport.open"), " ", input), body);
      if (info.lamport) load(); else draw();
      Sister.on("lamport", load);
    },
  });
})();

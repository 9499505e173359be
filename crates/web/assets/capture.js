// The capture view: a capture's flow diagram, as Wireshark's Flow Graph draws it (Statistics > Flow
// Graph): hosts as columns, each message an arrow from its sender to its receiver with the ports at
// its ends, time down the page. A click on an arrow shows the message's fields and its bytes (hex and
// ASCII). Beside it: the conversations with how each opened and closed, and the anomalies.
//
// Where the data comes from (see crates/web/src/capture.rs and flow.rs):
// - GET /api/captures                    the loaded captures
// - GET /api/captures/{id}/flow?...      columns, arrows (events) and rows (folded as the SVG folds)
// - GET /api/captures/{id}/messages/{conversation}/{index}[/bytes]   one message, its bytes
// - POST /api/analyze?keep=1&name=FILE   a file dropped on the page (or chosen with the file input)
// - the `capture` event                  a capture was added (or a live one grew): fetch again
//
// What to notice: a capture can hold 100,000 messages. Making 100,000 rows of DOM would take seconds
// and make scrolling stutter, so the list is *virtual*: a tall empty element gives the scroll bar its
// length, and only the rows in view (plus a few) exist, moved into place as the list scrolls. The
// same few dozen elements are reused for whatever rows are visible.
"use strict";

(() => {
  const { el, t, api } = Sister;
  const ROW_H = 26;         // px per row: fixed, so row i is at i * ROW_H (what makes virtual scrolling simple)
  const OVERSCAN = 8;       // rows drawn above and below the visible ones, so a fast scroll shows no gap
  const TIME_W = 110;       // px of the time column
  const MIN_COL_W = 170;    // px per host column, at least

  Sister.strings({
    en: {
      "capture.none": "No capture loaded. Start sister web with --pcap FILE, or drop a pcap file here.",
      "capture.choose": "Open a capture…",
      "capture.drop": "Drop a pcap or pcapng file here",
      "capture.all_convs": "all conversations",
      "capture.protocols": "Protocols:",
      "capture.analyzing": "Analyzing {name}…",
      "capture.loaded": "{name}: {packets} packets, {conversations} conversations",
      "capture.conversations": "Conversations",
      "capture.anomalies": "Anomalies",
      "capture.no_anomalies": "none",
      "capture.detail": "Message",
      "capture.detail_hint": "Click an arrow to see its fields and bytes.",
      "capture.fields": "Fields",
      "capture.bytes": "Bytes",
      "capture.bytes_cut": "first {shown} of {total} bytes",
      "capture.bytes_missing": "some bytes are not in the capture",
      "capture.times": "×{n}",
      "capture.open_fold": "{n} more like this: click to show them",
      "capture.omitted": "{n} messages are counted but have no detail (beyond the view's limit)",
      "capture.messages": "{n} msgs",
      "capture.live": "live",
      "capture.rows": "{rows} rows, {events} arrows",
      "capture.lifecycle": "TCP: this arrow comes from the connection's lifecycle",
    },
    id: {
      "capture.none": "Belum ada tangkapan. Jalankan sister web dengan --pcap FILE, atau jatuhkan file pcap di sini.",
      "capture.choose": "Buka tangkapan…",
      "capture.drop": "Jatuhkan file pcap atau pcapng di sini",
      "capture.all_convs": "semua percakapan",
      "capture.protocols": "Protokol:",
      "capture.analyzing": "Menganalisis {name}…",
      "capture.loaded": "{name}: {packets} paket, {conversations} percakapan",
      "capture.conversations": "Percakapan",
      "capture.anomalies": "Anomali",
      "capture.no_anomalies": "tidak ada",
      "capture.detail": "Pesan",
      "capture.detail_hint": "Klik sebuah panah untuk melihat field dan byte-nya.",
      "capture.fields": "Field",
      "capture.bytes": "Byte",
      "capture.bytes_cut": "{shown} byte pertama dari {total}",
      "capture.bytes_missing": "sebagian byte tidak ada di tangkapan",
      "capture.times": "×{n}",
      "capture.open_fold": "{n} lagi yang serupa: klik untuk menampilkannya",
      "capture.omitted": "{n} pesan dihitung tetapi tanpa detail (melebihi batas tampilan)",
      "capture.messages": "{n} pesan",
      "capture.live": "langsung",
      "capture.rows": "{rows} baris, {events} panah",
      "capture.lifecycle": "TCP: panah ini berasal dari siklus hidup koneksi",
    },
  });

  // The event arrays' fields (see flow.rs): [t, from, to, kind, protocol, conversation, message, label, from_port, to_port].
  const E = { t: 0, from: 1, to: 2, kind: 3, proto: 4, conv: 5, msg: 6, label: 7, fport: 8, tport: 9 };

  const state = {
    root: null,
    captures: [],
    id: null,          // the capture shown
    flow: null,        // its /flow answer
    rows: [],          // what is drawn: {ev, times, tLast, period}, folds opened in place
    filter: { conversation: "", off: new Set() },  // protocols switched off
    selected: null,    // the selected row's event index
    colW: MIN_COL_W,
    pool: [],          // the row elements, reused
    drawn: "",         // which rows are drawn now (first:last), to skip redundant work
  };

  const $ = (sel) => state.root.querySelector(sel);

  function showError(message) {
    const e = $(".capture-error");
    e.textContent = message || "";
    e.hidden = !message;
  }

  function fmtTime(s) { return s >= 100 ? s.toFixed(1) : s.toFixed(3); }

  // ---- loading ------------------------------------------------------------------------------------

  async function refreshList(select) {
    state.captures = await api("/api/captures");
    const sel = $(".capture-select");
    sel.replaceChildren(...state.captures.map((c) =>
      el("option", { value: c.id }, `${c.id}. ${c.name}${c.live ? ` (${t("capture.live")})` : ""}`)));
    sel.hidden = state.captures.length === 0;
    $(".capture-none").hidden = state.captures.length > 0;
    const want = select ?? state.id ?? (state.captures.length ? state.captures[state.captures.length - 1].id : null);
    if (want != null) {
      sel.value = want;
      await showCapture(Number(want));
    }
  }

  async function showCapture(id) {
    if (state.id !== id) {
      state.filter = { conversation: "", off: new Set() };
      state.selected = null;
    }
    state.id = id;
    await loadFlow();
  }

  async function loadFlow() {
    const f = state.flow;
    const params = new URLSearchParams();
    if (state.filter.conversation) params.set("conversation", state.filter.conversation);
    if (state.filter.off.size && f) {
      params.set("protocol", f.protocols.filter((p) => !state.filter.off.has(p)).join(",") || "none");
    }
    const q = params.toString();
    const started = performance.now();
    const flow = await api(`/api/captures/${state.id}/flow${q ? "?" + q : ""}`);
    state.flow = flow;
    state.rows = flow.rows.map(([ev, times, tLast, period]) => ({ ev, times, tLast, period }));
    drawAll();
    // For the benchmark (bench/web-capture.sh): how long from asking to the first rows on screen.
    window.sisterCaptureRendered = { ms: performance.now() - started, rows: state.rows.length, events: flow.events.length };
  }

  async function upload(file) {
    showError("");
    Sister.status(t("capture.analyzing", { name: file.name }));
    try {
      // keep=1: the server keeps the capture for the page (and its file, for the bytes of messages).
      await api(`/api/analyze?keep=1&name=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
      Sister.status("");
      // The `capture` event also arrives; showing the newest capture now does not wait for it.
      const list = await api("/api/captures");
      await refreshList(list.length ? list[list.length - 1].id : null);
    } catch (e) {
      Sister.status("");
      showError(e.message);
    }
  }

  // ---- drawing ------------------------------------------------------------------------------------

  function drawAll() {
    const f = state.flow;
    $(".capture-none").hidden = true;
    $(".capture-summary").textContent = [
      t("capture.loaded", { name: f.name, packets: f.packets, conversations: f.conversations.length }),
      t("capture.rows", { rows: state.rows.length, events: f.events.length }),
      f.omitted ? t("capture.omitted", { n: f.omitted }) : "",
    ].filter(Boolean).join(" · ");
    drawFilters();
    drawColumns();
    drawSide();
    state.drawn = "";
    $(".flow-space").style.height = `${state.rows.length * ROW_H}px`;
    drawVisible();
  }

  function drawFilters() {
    const f = state.flow;
    const conv = $(".capture-conv");
    conv.replaceChildren(
      el("option", { value: "" }, t("capture.all_convs")),
      ...f.conversations.map((c) => el("option", { value: c.id },
        `#${c.id} ${c.protocol || c.transport.toUpperCase()} ${c.client} → ${c.server}`)));
    conv.value = state.filter.conversation;
    $(".capture-protocols").replaceChildren(
      t("capture.protocols"),
      ...f.protocols.map((p) => el("label", {},
        el("input", {
          type: "checkbox", value: p, checked: !state.filter.off.has(p),
          onchange: (e) => {
            if (e.target.checked) state.filter.off.delete(p); else state.filter.off.add(p);
            loadFlow().catch((err) => showError(err.message));
          },
        }), " ", p)));
  }

  function drawColumns() {
    const f = state.flow;
    const width = $(".flow-scroll").clientWidth || 900;
    state.colW = Math.max(MIN_COL_W, Math.floor((width - TIME_W - 16) / Math.max(1, f.columns.length)));
    const head = $(".flow-head");
    head.style.width = `${TIME_W + state.colW * f.columns.length}px`;
    head.replaceChildren(
      el("div", { class: "flow-time-head", style: `width:${TIME_W}px` }, "t (s)"),
      ...f.columns.map((c) => el("div", { class: "flow-col", style: `width:${state.colW}px`, title: c.id },
        el("strong", {}, c.name || c.id), c.name ? el("span", {}, c.id) : null,
        c.roles.length ? el("em", {}, c.roles.join(", ")) : null)));
    const space = $(".flow-space");
    space.style.width = head.style.width;
    // The lifelines: one vertical line per column, the whole height of the list.
    for (const l of space.querySelectorAll(".lifeline")) l.remove();
    f.columns.forEach((_, i) => space.append(el("div", { class: "lifeline", style: `left:${x(i)}px` })));
  }

  // The x of column i's lifeline.
  function x(i) { return TIME_W + state.colW * (i + 0.5); }

  function rowElement() {
    const r = el("div", { class: "flow-row" },
      el("span", { class: "flow-t" }),
      el("div", { class: "arrow" }, el("span", { class: "label" }), el("span", { class: "port from" }), el("span", { class: "port to" })),
      el("button", { class: "fold", type: "button" }));
    r.addEventListener("click", (e) => {
      const i = Number(r.dataset.row);
      if (e.target.classList.contains("fold")) openFold(i); else select(i);
    });
    return r;
  }

  // Draw the rows in view: called on scroll (once per frame at most) and after any change.
  function drawVisible() {
    const scroll = $(".flow-scroll");
    const first = Math.max(0, Math.floor(scroll.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(state.rows.length, Math.ceil((scroll.scrollTop + scroll.clientHeight) / ROW_H) + OVERSCAN);
    const key = `${first}:${last}:${state.selected}`;
    if (key === state.drawn) return;
    state.drawn = key;
    const layer = $(".flow-rows");
    while (state.pool.length < last - first) {
      const r = rowElement();
      state.pool.push(r);
      layer.append(r);
    }
    const f = state.flow;
    state.pool.forEach((r, k) => {
      const i = first + k;
      if (i >= last) { r.hidden = true; return; }
      r.hidden = false;
      const row = state.rows[i];
      const e = f.events[row.ev];
      r.dataset.row = i;
      r.style.transform = `translateY(${i * ROW_H}px)`;
      r.className = `flow-row kind-${e[E.kind]} proto-${cssName(e[E.proto])}${row.ev === state.selected ? " selected" : ""}`;
      r.children[0].textContent = row.times > 1 ? `${fmtTime(e[E.t])}–${fmtTime(row.tLast)}` : fmtTime(e[E.t]);
      const a = r.children[1];
      const x1 = x(e[E.from]), x2 = x(e[E.to]);
      a.style.left = `${Math.min(x1, x2)}px`;
      a.style.width = `${Math.max(4, Math.abs(x2 - x1))}px`;
      a.classList.toggle("leftward", x2 < x1);
      a.children[0].textContent = e[E.label];
      a.children[1].textContent = e[E.fport];
      a.children[2].textContent = e[E.tport];
      r.title = `${e[E.label]}\n#${e[E.conv]} ${e[E.proto]} ${fmtTime(e[E.t])} s`;
      const fold = r.children[2];
      fold.hidden = row.times <= 1;
      if (row.times > 1) {
        fold.textContent = t("capture.times", { n: row.times });
        fold.title = t("capture.open_fold", { n: row.times });
        fold.style.left = `${Math.max(x1, x2) + 6}px`;
      }
    });
  }

  function cssName(s) { return String(s).toLowerCase().replace(/[^a-z0-9]+/g, "-"); }

  // Open a fold: the block of `period` folded rows that row i belongs to becomes the arrows it stands
  // for (`times * period` of them, from the block's first event on; see events::Row in the analyzer).
  function openFold(i) {
    const row = state.rows[i];
    let start = i;
    while (start > 0 && start > i - row.period + 1) {
      const prev = state.rows[start - 1];
      if (prev.times !== row.times || prev.period !== row.period || prev.ev !== state.rows[start].ev - 1) break;
      start--;
    }
    const first = state.rows[start].ev;
    const opened = [];
    for (let k = 0; k < row.times * row.period; k++) {
      const ev = first + k;
      opened.push({ ev, times: 1, tLast: state.flow.events[ev][E.t], period: 1 });
    }
    state.rows.splice(start, row.period, ...opened);
    $(".flow-space").style.height = `${state.rows.length * ROW_H}px`;
    state.drawn = "";
    drawVisible();
  }

  // ---- the message ----------------------------------------------------------------------------------

  async function select(i) {
    const row = state.rows[i];
    const e = state.flow.events[row.ev];
    state.selected = row.ev;
    state.drawn = "";
    drawVisible();
    const box = $(".capture-detail");
    const conv = state.flow.conversations.find((c) => c.id === e[E.conv]);
    if (e[E.msg] < 0) {
      box.replaceChildren(
        el("h3", {}, `${e[E.label]}`),
        el("p", { class: "muted" }, t("capture.lifecycle")),
        conv && conv.lifecycle ? el("p", {}, `#${conv.id}: ${conv.lifecycle.summary} [Zeek ${conv.lifecycle.zeek_state} ${conv.lifecycle.zeek_history}]`) : null);
      return;
    }
    const base = `/api/captures/${state.id}/messages/${e[E.conv]}/${e[E.msg]}`;
    box.replaceChildren(el("p", { class: "muted" }, "…"));
    try {
      const [detail, bytes] = await Promise.all([
        api(base),
        fetch(`${base}/bytes`).then(async (r) => {
          if (!r.ok) throw new Error((await r.json()).error);
          return { data: new Uint8Array(await r.arrayBuffer()), total: Number(r.headers.get("x-message-length")), missing: r.headers.get("x-bytes-missing") === "1" };
        }),
      ]);
      if (state.selected !== row.ev) return; // another arrow was clicked meanwhile
      const m = detail.message;
      const ep = (p) => `${p.addr}:${p.port}`;
      box.replaceChildren(
        el("h3", {}, `${m.protocol} ${m.summary}`),
        el("p", { class: "muted" }, `#${detail.conversation} ${ep(detail.from)} → ${ep(detail.to)} · t=${m.t.toFixed(6)} s · ${m.len} B @ ${m.offset}`),
        el("h4", {}, t("capture.fields")),
        el("table", { class: "capture-fields" },
          ...Object.entries(m.fields).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
        el("h4", {}, t("capture.bytes"),
          bytes.data.length < bytes.total ? el("span", { class: "muted" }, ` (${t("capture.bytes_cut", { shown: bytes.data.length, total: bytes.total })})`) : null,
          bytes.missing ? el("span", { class: "error" }, ` (${t("capture.bytes_missing")})`) : null),
        el("pre", { class: "hex" }, hexDump(bytes.data)));
    } catch (err) {
      box.replaceChildren(el("p", { class: "error" }, err.message));
    }
  }

  // Wireshark's bytes pane: offset, 16 bytes in hex (8 + 8), the same bytes as ASCII ('.' if not printable).
  function hexDump(data) {
    const lines = [];
    for (let o = 0; o < data.length; o += 16) {
      const chunk = data.subarray(o, o + 16);
      const hex = Array.from(chunk, (b) => b.toString(16).padStart(2, "0"));
      const left = hex.slice(0, 8).join(" "), right = hex.slice(8).join(" ");
      const ascii = Array.from(chunk, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
      lines.push(`${o.toString(16).padStart(4, "0")}  ${left.padEnd(23)}  ${right.padEnd(23)}  ${ascii}`);
    }
    return lines.join("\n");
  }

  // ---- beside the diagram: conversations and anomalies ------------------------------------------------

  function drawSide() {
    const f = state.flow;
    $(".capture-convs").replaceChildren(...f.conversations.map((c) => el("li", {
      class: String(c.id) === String(state.filter.conversation) ? "active" : "",
      onclick: () => setConversation(String(c.id) === String(state.filter.conversation) ? "" : String(c.id)),
    },
      el("strong", {}, `#${c.id} ${c.protocol || c.transport.toUpperCase()}`), ` ${c.client} → ${c.server} · `,
      t("capture.messages", { n: c.messages }),
      c.lifecycle ? el("div", { class: "muted" }, `${c.lifecycle.summary} [Zeek ${c.lifecycle.zeek_state} ${c.lifecycle.zeek_history}]`) : null)));
    $(".capture-anomalies").replaceChildren(...(f.anomalies.length ? f.anomalies.map((a) => el("li", {
      onclick: () => a.conversation && setConversation(String(a.conversation)),
    }, el("strong", {}, a.kind.replaceAll("_", " ")), ` ${fmtTime(a.t)} s${a.count > 1 ? ` ×${a.count}` : ""}${a.conversation ? ` #${a.conversation}` : ""}: ${a.detail}`))
      : [el("li", { class: "muted" }, t("capture.no_anomalies"))]),
    ...f.problems.map((p) => el("li", { class: "error" }, p)));
  }

  function setConversation(id) {
    state.filter.conversation = id;
    loadFlow().catch((e) => showError(e.message));
  }

  // ---- the view ---------------------------------------------------------------------------------------

  function init(root) {
    state.root = root;
    root.classList.add("capture");
    const input = el("input", { type: "file", class: "capture-file", accept: ".pcap,.pcapng,.cap,application/vnd.tcpdump.pcap" });
    input.addEventListener("change", () => { if (input.files.length) upload(input.files[0]); input.value = ""; });
    root.append(
      el("div", { class: "capture-bar" },
        el("select", { class: "capture-select", hidden: true, onchange: (e) => showCapture(Number(e.target.value)).catch((err) => showError(err.message)) }),
        el("select", { class: "capture-conv", onchange: (e) => setConversation(e.target.value) }),
        el("span", { class: "capture-protocols" }),
        el("label", { class: "capture-open" }, t("capture.choose"), input),
        el("span", { class: "capture-summary muted" })),
      el("p", { class: "capture-error error", hidden: true, role: "alert" }),
      el("p", { class: "capture-none muted" }, t("capture.none")),
      el("div", { class: "capture-body" },
        el("div", { class: "flow" },
          el("div", { class: "flow-head" }),
          el("div", { class: "flow-scroll" }, el("div", { class: "flow-space" }, el("div", { class: "flow-rows" })))),
        el("aside", { class: "capture-side" },
          el("h3", {}, t("capture.detail")),
          el("div", { class: "capture-detail" }, el("p", { class: "muted" }, t("capture.detail_hint"))),
          el("h3", {}, t("capture.conversations")), el("ul", { class: "capture-convs" }),
          el("h3", {}, t("capture.anomalies")), el("ul", { class: "capture-anomalies" }))),
      el("div", { class: "capture-dropzone" }, t("capture.drop")));

    // Scrolling redraws at most once per frame; the head scrolls sideways with the list.
    const scroll = $(".flow-scroll");
    let pending = false;
    scroll.addEventListener("scroll", () => {
      $(".flow-head").style.transform = `translateX(${-scroll.scrollLeft}px)`;
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; drawVisible(); });
    });
    window.addEventListener("resize", () => { if (state.flow) drawAll(); });

    // Drag and drop anywhere on the view.
    root.addEventListener("dragover", (e) => { e.preventDefault(); root.classList.add("dragging"); });
    root.addEventListener("dragleave", (e) => { if (e.target === root || !root.contains(e.relatedTarget)) root.classList.remove("dragging"); });
    root.addEventListener("drop", (e) => {
      e.preventDefault();
      root.classList.remove("dragging");
      const file = e.dataTransfer && e.dataTransfer.files[0];
      if (file) upload(file);
    });

    // A capture was added or a live one grew: a new one is shown, the one on screen is fetched again.
    Sister.on("capture", (d) => {
      const showing = state.id;
      refreshList(d.live && showing !== d.id ? showing : d.id).catch((e) => showError(e.message));
    });
    Sister.on("resync", () => refreshList().catch((e) => showError(e.message)));
    refreshList().catch((e) => showError(e.message));
  }

  Sister.view("capture", {
    init,
    // The view was hidden while it loaded: its widths were 0, so lay it out again now it shows.
    show() { if (state.flow) drawAll(); },
  });
})();

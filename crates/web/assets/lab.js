// The Lab view (`sister lab --web`): the worksheet's run, one card per pattern as it runs, with its
// checks and transcript; a pattern that was captured links to its flow diagram in the Capture view.
"use strict";

(() => {
  const { el, t, api } = Sister;

  Sister.strings({
    en: {
      "lab.none": "This page is not showing a lab run: start `sister lab --web`.",
      "lab.running": "running…", "lab.passed": "PASS", "lab.failed": "FAIL",
      "lab.transcript": "Transcript ({n} lines)", "lab.flow": "Flow diagram",
      "lab.summary": "{passed} of {n} patterns behaved as the worksheet says",
    },
    id: {
      "lab.none": "Halaman ini tidak menampilkan praktikum: jalankan `sister lab --web`.",
      "lab.running": "berjalan…", "lab.passed": "LULUS", "lab.failed": "GAGAL",
      "lab.transcript": "Transkrip ({n} baris)", "lab.flow": "Diagram alur",
      "lab.summary": "{passed} dari {n} pola berperilaku seperti lembar kerja",
    },
  });

  let list, summary;
  const cards = new Map();

  function card(step) {
    const state = el("span", { class: `lab-state ${step.state}` }, t(`lab.${step.state}`));
    const checks = el("ul", { class: "lab-checks" },
      step.checks.map(([what, ok]) => el("li", { class: ok ? "ok" : "fail" }, ok ? "✓ " : "✗ ", what)));
    const parts = [
      el("h3", {}, state, " ", el("code", {}, step.pattern), " ", step.title,
        step.state !== "running" ? el("span", { class: "muted" }, ` (${step.seconds.toFixed(1)} s)`) : null),
      checks,
    ];
    if (step.capture) {
      parts.push(el("a", { href: `#capture`, class: "lab-flow", "data-capture": step.capture,
        onclick: () => Sister.emit("select-capture", { id: step.capture }) }, t("lab.flow")));
    }
    if (step.transcript.length) {
      parts.push(el("details", {}, el("summary", {}, t("lab.transcript", { n: step.transcript.length })),
        el("pre", { class: "lab-transcript" }, step.transcript.join("\n"))));
    }
    return el("article", { class: "lab-step", "data-pattern": step.pattern, "data-state": step.state }, parts);
  }

  function update(step) {
    const c = card(step);
    const old = cards.get(step.pattern);
    if (old) old.replaceWith(c); else list.append(c);
    cards.set(step.pattern, c);
    const all = [...cards.values()];
    const done = all.filter((c) => c.dataset.state !== "running");
    const passed = all.filter((c) => c.dataset.state === "passed").length;
    summary.textContent = done.length ? t("lab.summary", { passed, n: done.length }) : "";
  }

  async function load() {
    const steps = await api("/api/lab").catch(() => null);
    if (!steps) return;
    for (const s of steps) update(s);
  }

  Sister.view("lab", {
    init(root, info) {
      summary = el("p", { id: "lab-summary" });
      list = el("div", { id: "lab-steps" });
      if (!info.lab) {
        root.append(el("p", { class: "muted" }, t("lab.none")));
        return;
      }
      document.querySelector('#tabs button[data-view="lab"]').hidden = false;
      root.append(summary, list);
      load();
      Sister.on("lab", update);
      Sister.on("resync", load);
    },
  });
})();

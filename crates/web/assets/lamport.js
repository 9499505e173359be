// The Lamport run's space-time diagram.
"use strict";
Sister.view("lamport", { init(root) { root.append(Sister.el("p", { class: "muted" }, "lamport")); } });

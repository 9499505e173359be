// The capture view (filled in by the capture view).
"use strict";
Sister.view("capture", { init(root) { root.append(Sister.el("p", { class: "muted" }, "capture")); } });

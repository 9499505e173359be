// The topic tree (filled in by the topics view).
"use strict";
Sister.view("topics", { init(root) { root.append(Sister.el("p", { class: "muted" }, "topics")); } });

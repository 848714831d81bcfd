import type {
  DashboardGroup,
  DashboardInstance,
  DashboardState,
  DashboardStep,
  DashboardWorkflow,
} from "./state.js";

/**
 * The dashboard's sections as HTML, rendered here (not in the browser): the page arrives with
 * the first state already drawn, and each poll swaps in the sections anew. Every value from the
 * cloud is escaped.
 */
export interface DashboardSections {
  header: string;
  fleet: string;
  legend: string;
  holds: string;
  drift: string;
  workflows: string;
  notifications: string;
  audit: string;
}

export const SECTION_IDS: (keyof DashboardSections)[] = [
  "header",
  "fleet",
  "legend",
  "holds",
  "drift",
  "workflows",
  "notifications",
  "audit",
];

export function renderSections(state: DashboardState): DashboardSections {
  return {
    header: header(state),
    fleet: fleet(state),
    legend: legend(state),
    holds: holds(state),
    drift: drift(state),
    workflows: workflows(state),
    notifications: notifications(state),
    audit: audit(state),
  };
}

/** A section while Phoenix cannot be read yet (it deploys after the gateway listens). */
export function waitingSections(message: string): DashboardSections {
  const waiting = `<p class="muted">${esc(message)}</p>`;
  return {
    header: `<span class="error">${esc(message)}</span>`,
    fleet: waiting,
    legend: "",
    holds: "",
    drift: "",
    workflows: "",
    notifications: "",
    audit: "",
  };
}

export function esc(value: unknown): string {
  return String(value ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** HH:MM:SS (UTC) in a <time> that carries the full ISO time. */
export function time(iso: string | undefined): string {
  if (!iso) return "";
  return `<time datetime="${esc(iso)}" title="${esc(iso)}">${esc(iso.slice(11, 19))}</time>`;
}

/** "i-…4c0c3f": the tail tells instances apart; the whole id is in the title and data attribute. */
export function shortId(id: string): string {
  const [prefix, rest = ""] = id.split(/-(.*)/s);
  return rest.length > 8 ? `${prefix}-…${rest.slice(-6)}` : id;
}

function duration(fromIso: string | undefined, toIso: string | undefined): string {
  if (!fromIso || !toIso) return "";
  const seconds = Math.max(0, Math.round((Date.parse(toIso) - Date.parse(fromIso)) / 1000));
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 120
    ? `${minutes} min ${seconds % 60} s`
    : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function header(state: DashboardState): string {
  const several = state.scope.accounts.length > 1 || state.scope.regions.length > 1;
  const scope = several
    ? `<span class="scope">accounts ${esc(state.scope.accounts.join(", "))} · regions ${esc(state.scope.regions.join(", "))}</span>`
    : "";
  const paused = state.paused
    .map(
      (p) =>
        `<span class="paused">paused: ${esc(p.subject)} by ${esc(p.by)} since ${time(p.since)}${p.reason ? ` (${esc(p.reason)})` : ""}; resume: <code>${esc(p.resumeCommand)}</code></span>`,
    )
    .join("");
  return `<span class="clock">local cloud time ${time(state.at)} UTC${state.speed && state.speed !== 1 ? ` (clock ×${esc(state.speed)})` : ""}</span>${scope}${paused}`;
}

function instance(i: DashboardInstance, state: DashboardState): string {
  const colour = (i.imageId && state.images[i.imageId]?.colour) || "#555";
  const marks = [i.quarantined ? "quarantined" : "", i.held ? "held" : ""].filter(Boolean);
  const title = [
    i.id,
    i.name ? `(${i.name})` : "",
    i.accountId ? `in account ${i.accountId} ${i.region ?? ""}` : "",
    `— ${i.imageId ?? "?"}, ${i.state}`,
    i.quarantined ? `, QUARANTINED (${i.quarantined})` : "",
    i.held ? `, containment HELD (${i.held})` : "",
    i.protected ? ", protected" : "",
  ].join(" ");
  return `<span class="instance ${esc(i.state)} ${marks.join(" ")}" data-instance="${esc(i.id)}" data-image="${esc(i.imageId)}" title="${esc(title)}"><i class="swatch" style="background:${esc(colour)}"></i>${esc(shortId(i.id))}${i.name ? ` <span class="muted">${esc(i.name)}</span>` : ""}${i.quarantined ? ' <span class="tag">quarantined</span>' : ""}${i.held ? ' <span class="tag held">held</span>' : ""}</span>`;
}

function group(g: DashboardGroup, state: DashboardState): string {
  const r = g.refresh;
  const refresh = r
    ? `<span class="refresh"><span class="bar"><span style="width:${Number(r.percentComplete)}%"></span></span> ${esc(r.status)} ${Number(r.percentComplete)}%${r.instancesToUpdate !== undefined ? `, ${Number(r.instancesToUpdate)} left` : ""}</span>`
    : "";
  const wave = g.managed ? `wave ${Number(g.wave ?? 1)}` : "unmanaged";
  // A member account's group says whose it is.
  const account = g.accountId
    ? `<span class="account muted" data-account="${esc(g.accountId)}">${esc(g.accountId)} · ${esc(g.region)}</span> `
    : "";
  return `<div class="group${g.protected ? " protected" : ""}${g.managed ? "" : " unmanaged"}" data-group="${esc(g.name)}"${g.accountId ? ` data-account="${esc(g.accountId)}"` : ""}><span class="wave">${wave}</span><span class="name">${account}${esc(g.name)}${g.protected ? " 🔒" : ""}</span><span class="instances">${g.instances.map((i) => instance(i, state)).join("")}</span>${refresh}</div>`;
}

function fleet(state: DashboardState): string {
  const families = new Map<string, DashboardGroup[]>();
  for (const g of state.groups) {
    const family = g.family ?? "no family";
    families.set(family, [...(families.get(family) ?? []), g]);
  }
  let html = "";
  for (const [family, groups] of families)
    html += `<div class="family"><h3>family ${esc(family)}</h3>${groups.map((g) => group(g, state)).join("")}</div>`;
  if (state.standalone.length > 0)
    html += `<div class="family"><h3>standalone and detached instances</h3><div class="group"><span class="instances">${state.standalone.map((i) => instance(i, state)).join("")}</span></div></div>`;
  return html || '<p class="muted">no instances yet</p>';
}

function legend(state: DashboardState): string {
  const images = Object.entries(state.images)
    .map(
      ([id, image]) =>
        `<span class="key" data-legend-image="${esc(id)}"><i class="swatch" style="background:${esc(image.colour)}"></i>${image.family ? `${esc(image.family)} · ` : ""}${image.name ? `${esc(image.name)} · ` : ""}${esc(shortId(id))}</span>`,
    )
    .join("");
  return `<span class="label">images</span>${images}<span class="label">marks</span><span class="key"><span class="tag">quarantined</span> isolated by Phoenix</span><span class="key"><span class="tag held">held</span> containment waits for approval</span><span class="key"><span class="muted">faded</span> starting or stopped</span>`;
}

function holds(state: DashboardState): string {
  if (state.holds.length === 0) return '<p class="muted">none: no containment waits for approval</p>';
  return state.holds
    .map(
      (h) =>
        `<div class="hold" data-hold="${esc(h.holdId)}"><div><b>${esc(h.holdId)}</b> ${esc(h.instanceId)} <span class="muted">${esc(h.kind)}, since ${time(h.createdAt)}</span></div><div class="reason">${esc(h.reason)}</div><div>approve: <code>${esc(h.approveCommand)}</code></div></div>`,
    )
    .join("");
}

function drift(state: DashboardState): string {
  const sweep = state.drift;
  if (!sweep) return '<p class="muted">no sweep yet: <code>npx phoenix sweep --local</code></p>';
  const head = `<div class="muted">last sweep ${time(sweep.at)} by ${esc(sweep.by)}: ${sweep.findings === 0 ? "no drift" : `${sweep.findings} finding${sweep.findings === 1 ? "" : "s"}, nothing changed (report mode)`}</div>`;
  const rows = sweep.shown
    .map(
      (f) =>
        `<div class="drift" data-drift="${esc(f.subject)}"><b>${esc(f.subject)}</b> <span class="muted">${esc(f.family)}, ${esc(f.kind)}</span><div class="reason">${esc(f.reason)}</div></div>`,
    )
    .join("");
  const more =
    sweep.findings > sweep.shown.length
      ? `<div class="muted">… and ${sweep.findings - sweep.shown.length} more: <code>npx phoenix sweep --json --local</code></div>`
      : "";
  return head + rows + more;
}

function step(s: DashboardStep): string {
  return `<span class="step ${s.outcome}" data-step="${esc(s.name)}" title="${esc(`${s.at ?? ""}${s.note ? ` — skipped: ${s.note}` : ""}`)}">${esc(s.name)}${s.outcome === "skipped" ? " (skipped)" : ""}</span>`;
}

function workflow(w: DashboardWorkflow, state: DashboardState): string {
  const ended = w.stoppedAt;
  const when = `${time(w.startedAt)}${ended ? ` → ${time(ended)} (${duration(w.startedAt, ended)})` : ` · running ${duration(w.startedAt, state.at)}`}`;
  return `<div class="workflow" data-execution="${esc(w.name)}" data-status="${esc(w.status)}"><div class="title"><b class="status-${esc(w.status)}">${esc(w.status)}</b> ${esc(w.workflow)} <span class="when">${when}</span></div><div class="exec">${esc(w.name)}</div><div class="steps">${w.steps.map(step).join(" → ")}</div></div>`;
}

function workflows(state: DashboardState): string {
  return state.workflows.length > 0
    ? state.workflows.map((w) => workflow(w, state)).join("")
    : '<p class="muted">none yet</p>';
}

function notifications(state: DashboardState): string {
  if (state.notifications.length === 0) return '<p class="muted">none yet</p>';
  return state.notifications
    .map(
      (n) =>
        `<div class="notification severity-${esc(n.attributes["severity"])}">${time(n.at)} <b>${esc(n.subject ?? "(no subject)")}</b></div>`,
    )
    .join("");
}

function audit(state: DashboardState): string {
  return state.audit
    .map(
      (a) =>
        `<div>${time(a.at)} <b class="outcome-${esc(a.outcome)}">${esc(a.action)} ${esc(a.outcome)}</b> ${esc(a.subject)} <i>${esc(a.actor)}</i>${a.reason ? `<br>${esc(a.reason)}` : ""}</div>`,
    )
    .join("");
}

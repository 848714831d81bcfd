/**
 * The dashboard: one static page that polls the state route and redraws. No framework: the
 * whole view is a few template functions over the JSON, and text is escaped before it is shown.
 */
export function dashboardPage(stateUrl: string, intervalMs: number): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Phoenix — local dashboard</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #0f1419; color: #e6e6e6; }
  header { padding: 12px 20px; background: #1b2128; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  #updated { color: #8a949e; font-size: 12px; }
  main { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; padding: 16px 20px; }
  section { background: #1b2128; border-radius: 6px; padding: 12px 14px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  .family { margin-bottom: 10px; }
  .family h3 { font-size: 13px; margin: 6px 0; color: #9fb3c8; }
  .group { display: flex; align-items: center; gap: 8px; margin: 4px 0; flex-wrap: wrap; }
  .group .name { width: 130px; }
  .group.protected .name::after { content: " 🔒"; }
  .wave { color: #8a949e; font-size: 12px; width: 52px; }
  .instance { width: 18px; height: 18px; border-radius: 3px; display: inline-block; border: 2px solid transparent; }
  .instance.pending { opacity: 0.45; }
  .instance.stopped, .instance.stopping { opacity: 0.3; }
  .instance.quarantined { border-color: #ff4d4f; box-shadow: 0 0 0 2px #ff4d4f55; }
  .bar { width: 120px; height: 8px; background: #2c343c; border-radius: 4px; overflow: hidden; display: inline-block; }
  .bar span { display: block; height: 100%; background: #52c41a; }
  .refresh { font-size: 12px; color: #b8c2cc; }
  .legend span { margin-right: 10px; font-size: 12px; }
  .workflow { border-top: 1px solid #2c343c; padding: 6px 0; }
  .workflow .title { display: flex; gap: 8px; }
  .status-RUNNING { color: #40a9ff; } .status-SUCCEEDED { color: #73d13d; }
  .status-FAILED, .status-TIMED_OUT, .status-ABORTED { color: #ff7875; }
  .steps { font-size: 12px; color: #8a949e; }
  .audit { font-size: 12px; max-height: 360px; overflow: auto; }
  .audit div { border-top: 1px solid #2c343c; padding: 3px 0; }
  .outcome-failed, .outcome-refused { color: #ff7875; } .outcome-held { color: #faad14; }
  #error { color: #ff7875; }
</style>
</head>
<body>
<header><h1>Phoenix</h1><span id="updated">loading…</span><span id="error"></span></header>
<main>
  <div>
    <section><h2>Fleet</h2><div id="fleet"></div><div class="legend" id="legend"></div></section>
  </div>
  <div>
    <section><h2>Workflows</h2><div id="workflows"></div></section>
    <section style="margin-top:16px"><h2>Audit trail</h2><div class="audit" id="audit"></div></section>
  </div>
</main>
<script>
const STATE_URL = ${JSON.stringify(stateUrl)};
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
// One colour per image, stable across polls: a hue from the id.
const hue = (id) => [...String(id)].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
const colour = (id) => id ? "hsl(" + hue(id) + ", 65%, 55%)" : "#555";
function instance(i) {
  const cls = ["instance", i.state, i.quarantined ? "quarantined" : ""].join(" ");
  const title = i.id + " — " + (i.imageId || "?") + ", " + i.state + (i.quarantined ? ", QUARANTINED (" + i.quarantined + ")" : "");
  return '<span class="' + esc(cls) + '" data-instance="' + esc(i.id) + '" data-image="' + esc(i.imageId) + '" title="' + esc(title) + '" style="background:' + colour(i.imageId) + '"></span>';
}
function group(g) {
  const r = g.refresh;
  const refresh = r ? '<span class="bar"><span style="width:' + Number(r.percentComplete) + '%"></span></span> <span class="refresh">' + esc(r.status) + " " + Number(r.percentComplete) + "%" + (r.instancesToUpdate !== undefined ? ", " + Number(r.instancesToUpdate) + " left" : "") + "</span>" : "";
  return '<div class="group' + (g.protected ? " protected" : "") + '" data-group="' + esc(g.name) + '"><span class="wave">wave ' + Number(g.wave) + '</span><span class="name">' + esc(g.name) + (g.managed ? "" : " (unmanaged)") + "</span>" + g.instances.map(instance).join("") + refresh + "</div>";
}
function render(state) {
  const families = new Map();
  for (const g of state.groups) { const f = g.family || "no family"; if (!families.has(f)) families.set(f, []); families.get(f).push(g); }
  let html = "";
  for (const [family, groups] of families) html += '<div class="family"><h3>family ' + esc(family) + "</h3>" + groups.map(group).join("") + "</div>";
  if (state.standalone.length) html += '<div class="family"><h3>standalone / detached</h3><div class="group">' + state.standalone.map(instance).join("") + "</div></div>";
  document.getElementById("fleet").innerHTML = html;
  const images = [...new Set([...state.groups.flatMap((g) => g.instances), ...state.standalone].map((i) => i.imageId).filter(Boolean))];
  document.getElementById("legend").innerHTML = images.map((id) => '<span><span class="instance" style="background:' + colour(id) + '"></span> ' + esc(id) + "</span>").join("") + '<span><span class="instance quarantined"></span> quarantined</span>';
  document.getElementById("workflows").innerHTML = state.workflows.length ? state.workflows.map((w) =>
    '<div class="workflow" data-execution="' + esc(w.name) + '" data-status="' + esc(w.status) + '"><div class="title"><b class="status-' + esc(w.status) + '">' + esc(w.status) + "</b> " + esc(w.workflow) + " <span>" + esc(w.name) + '</span></div><div class="steps">' + w.steps.map(esc).join(" → ") + "</div></div>").join("") : "none yet";
  document.getElementById("audit").innerHTML = state.audit.map((a) =>
    "<div><span>" + esc(a.at.slice(11, 19)) + '</span> <b class="outcome-' + esc(a.outcome) + '">' + esc(a.action) + " " + esc(a.outcome) + "</b> " + esc(a.subject) + " <i>" + esc(a.actor) + "</i>" + (a.reason ? "<br>" + esc(a.reason) : "") + "</div>").join("");
  document.getElementById("updated").textContent = "updated " + new Date(state.at).toLocaleTimeString();
}
async function poll() {
  try {
    const response = await fetch(STATE_URL, { cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    render(body);
    document.getElementById("error").textContent = "";
  } catch (error) {
    document.getElementById("error").textContent = String(error.message || error);
  } finally {
    setTimeout(poll, ${intervalMs});
  }
}
poll();
</script>
</body>
</html>`;
}

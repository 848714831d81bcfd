import { type DashboardSections, SECTION_IDS } from "./view.js";

/**
 * The dashboard: one page, drawn with its first state (no "loading…"), that polls the view
 * route and swaps in each section's HTML, rendered by the server (view.ts). No framework.
 */
export function dashboardPage(viewUrl: string, intervalMs: number, first: DashboardSections): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Phoenix — local dashboard</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #0f1419; color: #e6e6e6; }
  header { padding: 12px 20px; background: #1b2128; display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  #header { display: flex; gap: 16px; flex-wrap: wrap; color: #8a949e; font-size: 12px; }
  .scope { color: #d3adf7; } .paused { color: #faad14; font-weight: bold; }
  main { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; padding: 16px 20px; }
  section { background: #1b2128; border-radius: 6px; padding: 12px 14px; margin-bottom: 16px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  .muted { color: #8a949e; }
  .error { color: #ff7875; }
  .family { margin-bottom: 10px; }
  .family h3 { font-size: 13px; margin: 6px 0; color: #9fb3c8; }
  .group { display: flex; align-items: center; gap: 8px; margin: 4px 0; }
  .group .wave { color: #8a949e; font-size: 12px; width: 70px; flex: none; }
  .group.unmanaged .wave { font-style: italic; }
  .group .name { width: 120px; flex: none; }
  .instances { display: flex; gap: 6px; flex-wrap: wrap; }
  .instance { display: inline-flex; align-items: center; gap: 4px; padding: 1px 6px 1px 3px; border-radius: 4px;
    background: #242c35; border: 2px solid transparent; font: 12px ui-monospace, monospace; white-space: nowrap; }
  .instance.pending, .instance.stopped, .instance.stopping { opacity: 0.45; }
  .instance.quarantined { border-color: #ff4d4f; }
  .instance.held { border-color: #faad14; }
  .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 50%; flex: none; }
  .tag { font: 11px system-ui, sans-serif; color: #ff7875; white-space: nowrap; }
  .tag.held { color: #faad14; }
  .refresh { font-size: 12px; color: #b8c2cc; white-space: nowrap; }
  .bar { width: 100px; height: 8px; background: #2c343c; border-radius: 4px; overflow: hidden; display: inline-block; vertical-align: middle; }
  .bar span { display: block; height: 100%; background: #52c41a; }
  #legend { margin-top: 10px; padding-top: 8px; border-top: 1px dashed #3a444e; font-size: 12px; display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; }
  #legend .label { color: #8a949e; text-transform: uppercase; font-size: 11px; letter-spacing: 0.05em; }
  #legend .key { white-space: nowrap; display: inline-flex; align-items: center; gap: 4px; }
  .hold { border-left: 3px solid #faad14; padding: 4px 8px; margin: 6px 0; }
  .hold .reason { color: #b8c2cc; font-size: 12px; }
  code { background: #0f1419; padding: 1px 4px; border-radius: 3px; font-size: 12px; }
  .workflow { border-top: 1px solid #2c343c; padding: 6px 0; }
  .workflow .title { display: flex; gap: 8px; align-items: baseline; }
  .workflow .when, .workflow .exec { color: #8a949e; font-size: 12px; }
  .workflow .exec { word-break: break-all; }
  .status-RUNNING { color: #40a9ff; } .status-SUCCEEDED { color: #73d13d; }
  .status-FAILED, .status-TIMED_OUT, .status-ABORTED { color: #ff7875; }
  .steps { font-size: 12px; color: #b8c2cc; }
  .step.skipped { color: #6b7580; text-decoration: line-through; }
  .notification { font-size: 12px; border-top: 1px solid #2c343c; padding: 3px 0; }
  .severity-critical b { color: #ff7875; } .severity-warning b { color: #faad14; }
  .audit { font-size: 12px; max-height: 360px; overflow: auto; }
  .audit div { border-top: 1px solid #2c343c; padding: 3px 0; }
  .outcome-failed, .outcome-refused { color: #ff7875; } .outcome-held { color: #faad14; } .outcome-skipped { color: #8a949e; }
  #problem { color: #ff7875; font-size: 12px; }
</style>
</head>
<body>
<header><h1>Phoenix</h1><div id="header">${first.header}</div><span id="problem"></span></header>
<main>
  <div>
    <section><h2>Fleet</h2><div id="fleet">${first.fleet}</div><div id="legend">${first.legend}</div></section>
    <section><h2>Held for approval</h2><div id="holds">${first.holds}</div></section>
    <section><h2>Drift</h2><div id="drift">${first.drift}</div></section>
  </div>
  <div>
    <section><h2>Workflows</h2><div id="workflows">${first.workflows}</div></section>
    <section><h2>Notifications</h2><div id="notifications">${first.notifications}</div></section>
    <section><h2>Audit trail</h2><div class="audit" id="audit">${first.audit}</div></section>
  </div>
</main>
<script>
const VIEW_URL = ${JSON.stringify(viewUrl)};
const SECTIONS = ${JSON.stringify(SECTION_IDS)};
async function poll() {
  try {
    const response = await fetch(VIEW_URL, { cache: "no-store" });
    const body = await response.json();
    if (!body.sections) throw new Error(body.error || response.statusText);
    for (const id of SECTIONS) {
      const element = document.getElementById(id);
      if (element && element.innerHTML !== body.sections[id]) element.innerHTML = body.sections[id];
    }
    document.getElementById("problem").textContent = "";
  } catch (error) {
    document.getElementById("problem").textContent = "not updating: " + String(error.message || error);
  } finally {
    setTimeout(poll, ${intervalMs});
  }
}
setTimeout(poll, ${intervalMs});
</script>
</body>
</html>`;
}

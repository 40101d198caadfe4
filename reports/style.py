"""The stylesheet of report.html: inline, so the file stands alone (no network, no CDN)."""

from __future__ import annotations

STYLE = """
:root { --ok: #1b5e20; --ok-bg: #e8f5e9; --bad: #b71c1c; --bad-bg: #ffebee;
  --warn: #8d5a00; --warn-bg: #fff8e1; --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee5; }
* { box-sizing: border-box; }
body { font: 14px/1.5 "DejaVu Sans", system-ui, sans-serif; margin: 0; color: var(--ink);
  background: #f5f7fa; }
main { max-width: 78em; margin: 0 auto; padding: 1.5em 2em 4em; }
header.top { background: #102a43; color: #fff; padding: 1.4em 2em; }
header.top h1 { margin: 0; font-size: 1.55em; font-weight: 600; }
header.top p { margin: .3em 0 0; color: #bcccdc; }
h2 { margin: 2em 0 .6em; font-size: 1.2em; border-bottom: 2px solid var(--line);
  padding-bottom: .2em; }
h3 { margin: 0; font-size: 1.05em; }
.banner { padding: .8em 1.1em; border-radius: 6px; font-weight: 600; margin: 1.2em 0;
  font-size: 1.05em; }
.banner.ok { background: var(--ok-bg); color: var(--ok); border: 1px solid #a5d6a7; }
.banner.bad { background: var(--bad-bg); color: var(--bad); border: 1px solid #ef9a9a; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(17em, 1fr));
  gap: .5em 1.5em; background: #fff; border: 1px solid var(--line); border-radius: 6px;
  padding: 1em 1.2em; }
.facts div { min-width: 0; } .facts dt { color: var(--muted); font-size: .82em;
  text-transform: uppercase; letter-spacing: .04em; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: .4em 0; }
th, td { border: 1px solid var(--line); padding: .4em .55em; text-align: left;
  vertical-align: top; }
th { background: #eef2f7; font-size: .86em; } td.num { text-align: right;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: .05em .55em; border-radius: 1em; font-weight: 700;
  font-size: .85em; letter-spacing: .03em; white-space: nowrap; }
.PASS, .verified, .met { background: var(--ok-bg); color: var(--ok); }
.FAIL, .failed, .INTERRUPTED, .missed { background: var(--bad-bg); color: var(--bad); }
.ABORTED, .SKIPPED, .not-verified, .not-covered, .info { background: var(--warn-bg);
  color: var(--warn); }
.fig { white-space: nowrap; }
td code { overflow-wrap: normal; } .fig small { display: block; color: var(--muted);
  white-space: normal; }
.muted { color: var(--muted); } code { font-size: .9em; overflow-wrap: anywhere; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px;
  padding: 1em 1.2em; margin: 1em 0; break-inside: avoid; }
.card header { display: flex; gap: .8em; align-items: baseline; flex-wrap: wrap; }
.divergence { background: var(--bad-bg); border-left: 4px solid var(--bad);
  padding: .6em .9em; margin: .7em 0; }
.figures { display: flex; gap: 1.5em; flex-wrap: wrap; margin: .6em 0; }
.timeline svg { width: 100%; height: auto; }
details { margin: .4em 0; } summary { cursor: pointer; color: #243b53; }
ul.evidence { margin: .2em 0; padding-left: 1.2em; }
footer { margin-top: 3em; color: var(--muted); font-size: .85em; }
@media print { body { background: #fff; } .card, .facts { border-color: #bbb; } }
"""

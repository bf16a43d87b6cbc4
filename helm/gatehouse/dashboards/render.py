#!/usr/bin/env python3
"""Renders gatehouse.json's panels, laid out by their gridPos, from a real
Prometheus, into one PNG: a look at the dashboard without Grafana (which
no Debian package carries). check.sh --live --render FILE calls it with
the queries it substituted (label<TAB>expr lines) and the load window.

  render.py DASHBOARD QUERIES_TSV PROMETHEUS_URL START STOP OUT.png

Time series are drawn as lines (one per series, legend from legendFormat),
stat panels as their last value, heatmaps as lines of their buckets.
Needs matplotlib.
"""
import json
import re
import sys
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

dashboard, tsv, prom, start, stop, out = sys.argv[1:7]
exprs = {}
for line in open(tsv):
    label, expr = line.rstrip("\n").split("\t")
    exprs[label] = expr


def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))


def query(expr):
    url = f"{prom}/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": expr, "start": start, "end": stop, "step": "2"})
    return json.load(urllib.request.urlopen(url, timeout=30))["data"]["result"]


def legend(fmt, metric):
    if not fmt:
        return ",".join(f"{k}={v}" for k, v in metric.items() if k != "__name__")[:40] or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt)[:40]


board = json.load(open(dashboard))
all_panels = list(panels(board["panels"]))
# One grid row more, on top, for the title.
rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in all_panels) + 1
unit = 0.55  # inches a grid unit
fig = plt.figure(figsize=(24 * unit, rows * unit * 1.1))
fig.suptitle(f"{board['title']}: {len(all_panels)} panels from Prometheus at {prom}", fontsize=12,
             y=1 - 0.2 / rows, va="top")
for p in all_panels:
    g = p["gridPos"]
    left, width = g["x"] / 24, g["w"] / 24
    bottom, height = 1 - (g["y"] + g["h"]) / rows, g["h"] / rows
    if p.get("type") == "row":
        fig.text(left + 0.004, bottom + height / 2, p.get("title", ""), fontsize=10, weight="bold")
        continue
    # Room for the title above and the ticks below, in grid units.
    gap = 1 / rows
    ax = fig.add_axes([left + 0.02 * width + 0.006, bottom + 0.45 * gap, width * 0.96 - 0.006, height - 0.95 * gap])
    ax.set_title(p.get("title", ""), fontsize=7, loc="left")
    ax.tick_params(labelsize=5)
    series = []
    for t in p.get("targets", []):
        label = f"panel {p['id']} {p.get('title', '')} [{t.get('refId')}]"
        if label in exprs:
            for s in query(exprs[label]):
                xs = [float(x) - float(start) for x, _ in s["values"]]
                ys = [float(v) for _, v in s["values"]]
                series.append((legend(t.get("legendFormat"), s["metric"]), xs, ys))
    if not series:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=8, color="red")
        ax.set_xticks([]), ax.set_yticks([])
    elif p.get("type") in ("stat", "gauge", "bargauge"):
        ax.axis("off")
        text = "\n".join(f"{name}: {ys[-1]:.4g}" for name, _, ys in series[:4])
        ax.text(0.5, 0.45, text, ha="center", va="center", fontsize=9 if len(series) == 1 else 6)
    else:
        for name, xs, ys in series[:12]:
            ax.plot(xs, ys, linewidth=0.8, label=name)
        ax.legend(fontsize=4, loc="upper left", ncol=2, frameon=False)
fig.savefig(out, dpi=80)
print(f"rendered {len(all_panels)} panels into {out}")

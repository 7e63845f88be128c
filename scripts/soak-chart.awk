# Draws the soak CSV of scripts/soak.sh as an SVG: resident memory (MiB, measured from /proc and
# as reported by the system collector) and the number of exposed series over time, with the
# warm-up marked. Usage: awk -F, -f scripts/soak-chart.awk -v warmup=60 soak.csv > soak.svg
BEGIN {
  FS = ","
  W = 900; H = 640; left = 70; right = 20; top1 = 70; panel = 220; gap = 90
}
NR == 1 { next }
{
  n++
  t[n] = $1; rss[n] = $2 / 1048576; series[n] = $3; collector[n] = $5 / 1048576
  if ($1 > tmax) tmax = $1
  if (rss[n] > rmax) rmax = rss[n]
  if (collector[n] > rmax) rmax = collector[n]
  if (series[n] > smax) smax = series[n]
}
function x(v) { return left + (W - left - right) * v / (tmax > 0 ? tmax : 1) }
function y(v, top, vmax) { return top + panel - panel * v / (vmax > 0 ? vmax : 1) }
function line(values, top, vmax, color,    i, pts) {
  pts = ""
  for (i = 1; i <= n; i++) pts = pts sprintf("%.1f,%.1f ", x(t[i]), y(values[i], top, vmax))
  printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n", color, pts
}
function axes(top, vmax, label, unit,    i, v, yy) {
  printf "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s</text>\n", left, top - 12, label
  printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", left, top + panel, W - right, top + panel
  printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", left, top, left, top + panel
  for (i = 0; i <= 4; i++) {
    v = vmax * i / 4; yy = y(v, top, vmax)
    printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, yy, W - right, yy
    printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%.0f%s</text>\n", left - 6, yy + 4, v, unit
  }
  for (i = 0; i <= 10; i++) {
    v = tmax * i / 10
    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">%.0fs</text>\n", x(v), top + panel + 16, v
  }
  if (warmup > 0 && warmup < tmax) {
    printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#999\" stroke-dasharray=\"4,4\"/>\n", x(warmup), top, x(warmup), top + panel
    printf "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#666\"> warm-up</text>\n", x(warmup), top + 12
  }
}
END {
  rmax = rmax * 1.15; smax = smax * 1.15
  printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"13\">\n", W, H
  printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
  printf "<text x=\"%d\" y=\"24\" font-size=\"15\">unitel soak: reference-server under loadgen for %.0f s</text>\n", left, tmax
  axes(top1, rmax, "Resident memory (MiB)", "")
  line(rss, top1, rmax, "#1f77b4")
  line(collector, top1, rmax, "#ff7f0e")
  printf "<text x=\"%d\" y=\"%d\" fill=\"#1f77b4\" font-size=\"12\">/proc VmRSS</text>\n", W - 330, top1 - 12
  printf "<text x=\"%d\" y=\"%d\" fill=\"#ff7f0e\" font-size=\"12\">process_resident_memory_bytes</text>\n", W - 240, top1 - 12
  top2 = top1 + panel + gap
  axes(top2, smax, "Series exposed on /metrics (sample lines)", "")
  line(series, top2, smax, "#2ca02c")
  printf "</svg>\n"
}

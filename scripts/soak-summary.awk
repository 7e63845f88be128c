# Summarises the soak CSV of scripts/soak.sh as Markdown table rows: memory and series after
# the warm-up (range and least-squares trend), requests served.
# Usage: awk -f scripts/soak-summary.awk -v warmup=240 -v seconds=600 -v concurrency=4 soak.csv
BEGIN { FS = "," }
NR == 1 { next }
{
  t = $1; rss = $2 / 1048576; series = $3
  if (t < warmup) { next }
  n++; st += t; srss += rss; stt += t * t; strss += t * rss; sser += series; stser += t * series
  if (n == 1) { rss0 = rss; ser0 = series; rmin = rss; rmax = rss; smin = series; smax = series }
  if (rss < rmin) rmin = rss; if (rss > rmax) rmax = rss
  if (series < smin) smin = series; if (series > smax) smax = series
  rss1 = rss; ser1 = series; req = $6; chunks = $7; t1 = t
}
END {
  d = n * stt - st * st
  slope_rss = d ? (n * strss - st * srss) / d * 600 : 0
  slope_ser = d ? (n * stser - st * sser) / d * 600 : 0
  printf "| loadgen | %d s, %d workers, `--read-only` |\n", seconds, concurrency
  printf "| samples after %d s warm-up | %d |\n", warmup, n
  printf "| RSS after warm-up (min / max / last) | %.1f / %.1f / %.1f MiB |\n", rmin, rmax, rss1
  printf "| RSS trend (least squares) | %+.2f MiB per 10 min |\n", slope_rss
  printf "| series (exposition samples) min / max / last | %d / %d / %d |\n", smin, smax, ser1
  printf "| series trend | %+.1f per 10 min |\n", slope_ser
  printf "| requests served | %d (%.0f req/s) |\n", req, req / (t1 > 0 ? t1 : 1)
  printf "| indexed chunks at the end | %d |\n", chunks
}

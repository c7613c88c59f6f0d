# bench/lib/report.awk — turns bench/registry.sh's per-run values into the
# raw per-registry files and the side-by-side tables.
#
# mode=raw   reg=NAME                  values.txt -> `name value unit` (+ `name.runs v1,v2 unit`)
# mode=text  regs="hoist distribution" raw files -> aligned plain-text table
# mode=md    regs=... peer_label=...   raw files -> Markdown table fragment
#
# values.txt lines: `registry name unit agg value`, agg one of
# median | max | sum | first | last. Raw files are read as FILENAME order =
# regs order (the caller passes them in that order).

function median(s,    a, n, i, j, t) {
  n = split(s, a, ",")
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
  if (n == 0) return "nan"
  if (n % 2) return a[(n + 1) / 2]
  return sprintf("%." decimals(a[n / 2], a[n / 2 + 1]) "f", (a[n / 2] + a[n / 2 + 1]) / 2)
}
# decimals(x, y): the larger number of digits after the point in x and y (at least 1)
function decimals(x, y,    dx, dy) {
  dx = index(x, ".") ? length(x) - index(x, ".") : 0
  dy = index(y, ".") ? length(y) - index(y, ".") : 0
  if (dy > dx) dx = dy
  return dx < 1 ? 1 : dx
}
function aggregate(how, s,    a, n, i, m) {
  n = split(s, a, ",")
  if (how == "median") return median(s)
  if (how == "first") return a[1]
  if (how == "last") return a[n]
  if (how == "max") { m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
  if (how == "sum") { m = 0; for (i = 1; i <= n; i++) m += a[i]; return m }
  return "nan"
}
# higher is better for rates and shares; lower for times, sizes, counts
function better(unit) { return (unit ~ /\/s$/ || unit == "%") ? "higher" : "lower" }
# mid(n, pre, suf): the part of n between prefix pre and suffix suf, or ""
# (plain POSIX awk: Debian's default awk is mawk, without gawk's match(s, r, arr))
function mid(n, pre, suf) {
  if (length(n) <= length(pre) + length(suf)) return ""
  if (substr(n, 1, length(pre)) != pre || substr(n, length(n) - length(suf) + 1) != suf) return ""
  return substr(n, length(pre) + 1, length(n) - length(pre) - length(suf))
}
function label(n,    m, a, b, what) {
  if ((m = mid(n, "push_mono_", "_time")) != "") return "a. push " m " monolithic, time"
  if ((m = mid(n, "push_mono_", "_rate")) != "") return "a. push " m " monolithic, rate"
  if ((m = mid(n, "push_chunked_", "_time")) != "" && split(m, a, "_") == 2) return "a. push " a[2] " in " a[1] " PATCHes, time"
  if ((m = mid(n, "push_chunked_", "_rate")) != "" && split(m, a, "_") == 2) return "a. push " a[2] " in " a[1] " PATCHes, rate"
  if ((m = mid(n, "pull_again_", "_rate")) != "") return "b. pull " m " again"
  if ((m = mid(n, "pull_", "_rate")) != "") return "b. pull " m
  if (n == "wrk_manifest_get_by_tag") return "c. manifest GET by tag (wrk)"
  if (n == "ab_blob_head") return "c. blob HEAD (ab -k)"
  what = (n ~ /^wrk_/) ? "manifest GET" : "blob HEAD"
  if (n ~ /^(wrk_manifest_get_by_tag|ab_blob_head)\.p(50|99)$/) return "c. " what " latency " substr(n, length(n) - 2)
  if (n ~ /^(wrk_manifest_get_by_tag|ab_blob_head)\.errors$/) return "c. " what " errors (non-2xx + socket)"
  if (n == "ab_blob_head.keepalive") return "c. blob HEAD requests on kept-alive conns"
  if (n == "skopeo_copy_oci_to_registry") return "d. skopeo copy oci: -> registry"
  if (n == "skopeo_copy_registry_to_oci") return "d. skopeo copy registry -> oci:"
  if ((m = mid(n, "push_", "_time")) != "" && split(m, a, "_par") == 2 && sub(/KiB$/, "", a[1]) && split(a[1], b, "x") == 2)
    return "e. " b[1] " x " b[2] " KiB blobs, " a[2] " parallel"
  if (n == "registry_rss_before_push") return "f. registry RSS before the first push"
  if ((m = mid(n, "registry_peak_rss_during_", "_push")) != "") return "f. registry peak RSS during " m " push"
  if ((m = mid(n, "registry_cpu_during_mono_", "_push")) != "") return "f. registry CPU per " m " push, monolithic"
  if ((m = mid(n, "registry_cpu_during_chunked_", "_push")) != "") return "f. registry CPU per " m " push, chunked"
  if (n == "registry_rss_end") return "f. registry RSS at the end"
  if ((m = mid(n, "", ".failures")) != "") return "! failed runs: " label(m)
  return n
}
function ratio(a, b) {
  if (a == "" || b == "" || a !~ /^[0-9.eE+-]+$/ || b !~ /^[0-9.eE+-]+$/ || b + 0 == 0) return "-"
  return sprintf("%.2f", a / b)
}

mode == "raw" {
  if ($1 != reg) next
  if (!($2 in unit)) { order[++n] = $2; unit[$2] = $3; how[$2] = $4; vals[$2] = $5 }
  else vals[$2] = vals[$2] "," $5
  next
}

# text / md: collect `name value unit` and `name.runs list unit` per registry
mode != "raw" {
  if (FNR == 1) { fi++; fname[fi] = FILENAME }
  if ($0 ~ /^#/ || NF < 3) next
  if ($1 ~ /\.runs$/) { base = substr($1, 1, length($1) - 5); runs[fi, base] = $2; next }
  if (!($1 in unit)) { order[++n] = $1; unit[$1] = $3 }
  val[fi, $1] = $2
}

END {
  if (mode == "raw") {
    for (i = 1; i <= n; i++) {
      k = order[i]
      print k, aggregate(how[k], vals[k]), unit[k]
      if (how[k] == "median") print k ".runs", vals[k], unit[k]
    }
    exit
  }
  # rows by scenario letter (a..f, failures last), keeping the measured order within one
  for (j = 1; j <= n; j++) { key[j] = substr(label(order[j]), 1, 1); if (key[j] !~ /[a-f]/) key[j] = "z" }
  for (j = 2; j <= n; j++) {
    t = order[j]; tk = key[j]
    for (i = j - 1; i >= 1 && key[i] > tk; i--) { order[i + 1] = order[i]; key[i + 1] = key[i] }
    order[i + 1] = t; key[i + 1] = tk
  }
  nr = split(regs, R, " ")
  peer = 0; hoi = 0
  for (i = 1; i <= nr; i++) { if (R[i] == "hoist") hoi = i; else if (!peer) peer = i }
  if (mode == "text") {
    fmt = "%-48s %-6s"; hdr = sprintf(fmt, "test", "unit")
    for (i = 1; i <= nr; i++) hdr = hdr sprintf(" %14s", R[i])
    if (hoi && peer) hdr = hdr sprintf(" %16s", R[hoi] "/" R[peer])
    hdr = hdr "  better"
    print hdr
    line = hdr; gsub(/./, "-", line); print line
    for (j = 1; j <= n; j++) {
      k = order[j]; s = sprintf(fmt, label(k), unit[k])
      for (i = 1; i <= nr; i++) s = s sprintf(" %14s", ((i, k) in val) ? val[i, k] : "FAIL")
      if (hoi && peer) s = s sprintf(" %16s", ratio(val[hoi, k], val[peer, k]))
      print s "  " better(unit[k])
    }
  } else {
    s = "| test | unit | better |"; d = "| --- | --- | --- |"
    for (i = 1; i <= nr; i++) {
      s = s " " (i == peer && peer_label != "" ? peer_label : R[i]) " | runs |"
      d = d " ---: | --- |"
    }
    if (hoi && peer) { s = s " " R[hoi] " / " R[peer] " |"; d = d " ---: |" }
    print s; print d
    for (j = 1; j <= n; j++) {
      k = order[j]; s = "| " label(k) " | " unit[k] " | " better(unit[k]) " |"
      for (i = 1; i <= nr; i++) {
        v = ((i, k) in val) ? val[i, k] : "FAIL"
        r = ((i, k) in runs) ? runs[i, k] : ""
        gsub(",", ", ", r)
        s = s " " (i == hoi ? "**" v "**" : v) " | " r " |"
      }
      if (hoi && peer) s = s " " ratio(val[hoi, k], val[peer, k]) " |"
      print s
    }
  }
}

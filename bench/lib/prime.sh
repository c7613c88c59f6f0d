# shellcheck shell=bash
# prime_page_cache DIR: the steady state of a host that has run for a while.
#
# There the page cache fills the memory, and a new page cache page comes
# from reclaiming an old one. A fresh VM has gigabytes free instead, and on
# this project's VMs (free page reporting) the first touch of such a page
# costs a host fault: about 2.5 s per GiB of page cache, more than the work
# measured, falling at random on whichever run gets such pages. This reads
# a sparse file as large as the free memory (leaving 1 GiB), so every run
# starts in the steady state; it takes no disk space and is removed after.
# Prints the MiB read.
prime_page_cache() {
  local free_kb mb
  free_kb=$(awk '/^MemFree:/{print $2}' /proc/meminfo)
  mb=$((free_kb / 1024 - 1024))
  [ "$mb" -gt 0 ] || { echo 0; return 0; }
  truncate -s "${mb}M" "$1/prime"
  dd if="$1/prime" of=/dev/null bs=1M status=none
  rm -f "$1/prime"
  echo "$mb"
}

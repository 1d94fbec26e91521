#!/usr/bin/env bash
# The Debian packages feijian needs beyond Python, declared once. `make setup` (and so `make demo`
# and `make test`) and `.ci/run` call this before any long work starts.
#
#   scripts/system-deps.sh [demo|test]     demo: what `feijian demo` needs; test: that and the test tools
#
# As root with apt-get it installs whatever is missing; otherwise it prints the exact
# `apt-get install …` line and exits 3, so nobody waits for a run that would stop half way.
set -euo pipefail

need=${1:-test}
# demo: Java for the Spark engine, Noto CJK for Chinese in charts and PDFs, Pango and HarfBuzz-subset
# for WeasyPrint's PDFs (without subsetting, embedding a CJK font takes minutes).
demo_pkgs=(openjdk-17-jre-headless fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)
# test: poppler reads the PDFs back, PostgreSQL 15 holds findings in a throwaway cluster, Debian's
# chromium is driven by Playwright for the page (never `playwright install`).
test_pkgs=(poppler-utils postgresql chromium)

case "$need" in
  demo) pkgs=("${demo_pkgs[@]}") ;;
  test) pkgs=("${demo_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 [demo|test]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${pkgs[@]}"; do
  # an installed package reports "install ok installed"; a removed one can linger as "deinstall"
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  {
    echo "feijian needs these system packages, which are not installed: ${missing[*]}"
    echo "install them first (as root), then run the same make command again:"
    echo "    apt-get update && $line"
  } >&2
  exit 3
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# The front-end files feijian ships or tests with, fetched from the npm registry at pinned versions and
# checked against their digests. They are committed (the page needs no build step and no network);
# run this to re-fetch them or to check that the committed copies are the published ones.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fetch() {  # package@version, file inside the package, destination, sha256
  (cd "$tmp" && npm pack --silent "$1" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" "package/$2"
  echo "$4  $tmp/package/$2" | sha256sum --check --quiet
  install -m 644 "$tmp/package/$2" "$3"
  rm -rf "$tmp"/*
}
fetch echarts@6.1.0 dist/echarts.min.js serving/web/static/vendor/echarts.min.js \
  b66b25aeb4df84e33199dc21694014d336d222cbd9deb0e5a7c14bd6aa0d0fd0   # the page's charts (Apache-2.0)
fetch axe-core@4.14.1 axe.min.js tests/vendor/axe.min.js \
  29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c   # accessibility checks in tests (MPL-2.0)
echo "vendored files match their published digests"

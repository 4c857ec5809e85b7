#!/bin/sh
# Removes what native add-on builds leave in node_modules (object files, static archives,
# makefiles, the C/C++ sources they compiled, test add-ons) and keeps each build/Release/*.node.
# Used by the Dockerfile after `npm prune --omit=dev`; tested by test/ops/docker.test.ts.
set -eu
nm="${1:-node_modules}"
for d in obj.target obj .deps; do
  find "$nm" -type d -path "*/build/Release/$d" -prune -exec rm -rf {} +
done
find "$nm" -type d -path '*/build/*' -name node_gyp_bins -prune -exec rm -rf {} +
find "$nm" -type f -path '*/build/*' \( -name '*.o' -o -name '*.a' -o -name '*.d' -o -name '*.mk' -o -name Makefile -o -name config.gypi -o -name test_extension.node \) -delete
# Sources compiled above, not needed at run time.
rm -rf "$nm/better-sqlite3/deps" "$nm/better-sqlite3/src" "$nm/argon2/argon2" "$nm/argon2/argon2.cpp"

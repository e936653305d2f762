#!/usr/bin/env bash
# Fetch the browser assets the offline book needs from the npm registry and copy the
# files the pages load into _vendor/ (committed; readers need no Node).
# Run once when bumping a version: scripts/vendor_assets.sh
set -euo pipefail
MATHJAX=3.2.2
REQUIREJS=2.3.4
HTML_MANAGER=1.0.6
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "mathjax@$MATHJAX" "requirejs@$REQUIREJS" "@jupyter-widgets/html-manager@$HTML_MANAGER" >/dev/null
for f in *.tgz; do mkdir -p "${f%.tgz}"; tar xzf "$f" -C "${f%.tgz}"; done
mj=mathjax-$MATHJAX/package
rq=requirejs-$REQUIREJS/package
hm=jupyter-widgets-html-manager-$HTML_MANAGER/package

out=$root/_vendor
# _vendor/widgets/require-config.js is the project's own file (see its header): keep it.
rm -rf "$out/mathjax"
[[ -d "$out/widgets" ]] && find "$out/widgets" -mindepth 1 ! -name require-config.js -delete
mkdir -p "$out/mathjax/output/chtml/fonts" "$out/mathjax/input/tex" "$out/widgets"
cp "$mj/es5/tex-chtml.js" "$out/mathjax/"
cp -r "$mj/es5/output/chtml/fonts/woff-v2" "$out/mathjax/output/chtml/fonts/"
cp -r "$mj/es5/input/tex/extensions" "$out/mathjax/input/tex/"
cp -r "$mj/es5/ui" "$mj/es5/a11y" "$out/mathjax/"
cp "$mj/LICENSE" "$out/mathjax/LICENSE"
cp "$rq/require.js" "$out/widgets/require.js"
sed -n '1,5p' "$rq/require.js" > "$out/widgets/LICENSE.requirejs"   # MIT header of require.js
cp "$hm/dist/embed-amd.js" "$out/widgets/embed-amd.js"
cp "$hm/dist/embed.js.LICENSE.txt" "$out/widgets/embed-amd.js.LICENSE.txt"
cp "$hm/LICENSE" "$out/widgets/LICENSE.html-manager"
cp "$hm"/dist/*.woff2 "$out/widgets/"
cat > "$out/VERSIONS" <<EOV
mathjax $MATHJAX (Apache-2.0)
requirejs $REQUIREJS (MIT)
@jupyter-widgets/html-manager $HTML_MANAGER (BSD-3-Clause)
EOV
echo "vendored into $out:"; du -sh "$out"/*

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
rm -rf "$out/mathjax" "$out/widgets"
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
# Without this, the html-manager asks for its fonts under <page folder>/@jupyter-widgets/ (404s).
cat > "$out/widgets/require-config.js" <<'EOJS'
// Written by scripts/vendor_assets.sh; loaded between require.js and embed-amd.js (nb_ipywidgets_js
// in _config.yml). Each AMD module in the vendored @jupyter-widgets/html-manager bundle looks for
// its font files in the folder that require.js assigns to the module, by default under the page's
// own folder (<page folder>/@jupyter-widgets/..., which does not exist: a 404 on every widget page).
// Place all four modules in this script's folder, where the fonts are vendored.
(function () {
  var here = new URL(".", document.currentScript.src).href.replace(/\/$/, "");
  require.config({
    paths: {
      "@jupyter-widgets/base": here + "/base",
      "@jupyter-widgets/controls": here + "/controls",
      "@jupyter-widgets/html-manager": here + "/html-manager",
      "@jupyter-widgets/html-manager/dist": here,
    },
  });
})();
EOJS
cat > "$out/VERSIONS" <<EOV
mathjax $MATHJAX (Apache-2.0)
requirejs $REQUIREJS (MIT)
@jupyter-widgets/html-manager $HTML_MANAGER (BSD-3-Clause)
EOV
echo "vendored into $out:"; du -sh "$out"/*

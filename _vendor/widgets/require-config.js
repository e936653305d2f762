// The project's own file (not fetched by scripts/vendor_assets.sh, which keeps it); loaded between require.js and embed-amd.js (nb_ipywidgets_js
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

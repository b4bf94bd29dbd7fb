// Bundles one generative-UI component module for LangGraph's LoadExternalComponent, with the
// esbuild installed where that module's project can import it (nothing is fetched).
//
//   node ui_bundler.mjs <global name> <absolute path of the module>
//
// Prints one JSON object, {"files": {"entrypoint.js": "...", "entrypoint.css"?: "..."},
// "inputs": [absolute paths of every file that went in]}; on failure, one line on stderr.
import { createRequire } from "node:module";
import path from "node:path";

const [globalName, source] = process.argv.slice(2);

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

let esbuild;
try {
  esbuild = createRequire(source)("esbuild");
} catch {
  fail(`esbuild is not installed where ${source} can import it (npm install --save-dev esbuild)`);
}

// What the host page's LoadExternalComponent lends the bundle (its bootstrapUiContext answers
// require() for these): one React for the page and its components, so hooks and context work.
const SHARED = /^(react|react-dom|@langchain\/langgraph-sdk)(\/.*)?$/;
const SHARED_NS = "lgui-shared";
const ENTRY = "lgui-entry:render.jsx";

const shared = {
  name: SHARED_NS,
  setup(build) {
    build.onResolve({ filter: SHARED }, (args) => ({ path: args.path, namespace: SHARED_NS }));
    build.onLoad({ filter: /.*/, namespace: SHARED_NS }, (args) => ({
      contents: `module.exports = globalThis[Symbol.for("LGUI_REQUIRE")](${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

// The snippet POST /ui answers loads this script and then calls render(name, shadowRootId):
// the component goes into a node of that shadow root, through the page's component store.
const entry = `
import components from ${JSON.stringify(source)};

export function render(name, shadowRootId) {
  const component = components[name];
  if (component == null) {
    throw new Error("no component " + JSON.stringify(name) + " in " + ${JSON.stringify(source)});
  }
  const target = document.createElement("div");
  document.getElementById(shadowRootId).shadowRoot.appendChild(target);
  window[Symbol.for("LGUI_EXT_STORE")].respond(shadowRootId, component, target);
}
`;

const directory = path.dirname(source);
let result;
try {
  result = await esbuild.build({
    stdin: { contents: entry, resolveDir: directory, sourcefile: ENTRY, loader: "jsx" },
    absWorkingDir: directory,
    outfile: path.join(directory, "entrypoint.js"),
    write: false,
    bundle: true,
    format: "iife",
    globalName,
    platform: "browser",
    target: "es2020",
    jsx: "automatic",
    minify: true,
    metafile: true,
    logLevel: "silent",
    plugins: [shared],
  });
} catch (error) {
  const first = error.errors?.[0];
  if (first == null) fail(String(error.message ?? error).split("\n")[0]);
  const where = first.location
    ? `${path.resolve(directory, first.location.file)}:${first.location.line}:${first.location.column}: `
    : "";
  fail(`${where}${first.text}`);
}

const files = {};
for (const file of result.outputFiles) {
  const name = path.basename(file.path);
  if (name.endsWith(".js") || name.endsWith(".css")) files[name] = file.text;
}
const inputs = Object.keys(result.metafile.inputs)
  .filter((key) => key !== ENTRY && !key.startsWith(`${SHARED_NS}:`))
  .map((key) => path.resolve(directory, key));
process.stdout.write(JSON.stringify({ files, inputs }));

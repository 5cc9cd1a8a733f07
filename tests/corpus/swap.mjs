// Puts eu-west-1's intermediate certificate into us-east-1's slot of a store (text surgery on
// the literal blocks, so the YAML stays as the CLI writes it).
import { readFileSync, writeFileSync } from "node:fs";
const file = process.argv[2];
const text = readFileSync(file, "utf8");
const cert = (scope) => {
  const m = text.match(new RegExp(`\\n      ${scope}:\\n        cert: \\|\\n((?:          .*\\n)+)`));
  if (!m) throw new Error(`no ${scope} intermediate in ${file}`);
  return m[1];
};
const [us, eu] = [cert("us-east-1"), cert("eu-west-1")];
writeFileSync(file, text.replace(`us-east-1:\n        cert: |\n${us}`, `us-east-1:\n        cert: |\n${eu}`));

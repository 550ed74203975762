// Renders the control plane's settings table for README.md from the SETTINGS list the process
// validates against, so the documentation cannot drift from the code.
//   node --import tsx scripts/settings-doc.ts          print the table
//   node --import tsx scripts/settings-doc.ts --write  rewrite the block between the markers in README.md
// test/control/settingsDoc.test.ts fails when README.md is out of date.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SETTINGS } from "../control/config/settings.ts";

export const START = "<!-- settings:start -->";
export const END = "<!-- settings:end -->";
export const README = fileURLToPath(new URL("../README.md", import.meta.url));

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

export function settingsTable(): string {
  const rows = ["| group | variable | flag | default | meaning |", "|---|---|---|---|---|"];
  for (const s of SETTINGS) {
    rows.push(`| ${cell(s.group)} | \`${s.env}\` | \`${s.flag}\` | ${cell(s.defaultText)} | ${cell(s.help)} |`);
  }
  return rows.join("\n");
}

export function renderInto(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} ... ${END} block`);
  return `${readme.slice(0, start + START.length)}\n${settingsTable()}\n${readme.slice(end)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes("--write")) {
    writeFileSync(README, renderInto(readFileSync(README, "utf8")));
    console.log(`README.md: ${SETTINGS.length} settings`);
  } else {
    console.log(settingsTable());
  }
}

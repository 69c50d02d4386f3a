#!/usr/bin/env node
// Validate every ```mermaid fenced block of one or more Markdown files with the
// real Mermaid parser (the same grammar GitHub / mermaid.live use), headless.
//
// usage: node test/mermaid/validate.mjs FILE.md [FILE2.md ...]
// prints: "ok FILE#N <diagram type>" or "FAIL FILE#N <fence line>: <error>"
// exit:   0 all blocks parse, 1 some block fails, 2 usage error / unreadable
//         file / file without any mermaid block (a report that lost its
//         diagrams must not pass silently).
//
// node test/mermaid/validate.mjs --serve: one process for many checks (loading
// jsdom + mermaid is ~3 s of CPU, a parse a few ms): each stdin line is a JSON
// list of files, each answer one stdout line {"code", "stdout", "stderr"}
// holding what the command above would exit with and print.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

// Mermaid (via DOMPurify) probes `window`/`document` when its module is first
// evaluated, so the fake DOM must exist *before* mermaid is imported: hence
// the dynamic import below instead of a static one.
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

// Returns [{ line, text }] for each fenced block whose info string is
// "mermaid". Follows CommonMark closely enough for generated reports:
// ``` or ~~~ fences, up to 3 spaces indent, closing fence of the same char
// at least as long as the opening one.
function mermaidBlocks(markdown) {
  const lines = markdown.split(/\r?\n/);
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    const close = new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`);
    let j = i + 1;
    while (j < lines.length && !close.test(lines[j])) j++;
    if (open[2].toLowerCase() === 'mermaid') {
      // An unclosed fence swallows the rest of the file; flag it instead of
      // parsing whatever follows it.
      blocks.push({ line: i + 1, text: lines.slice(i + 1, j).join('\n'), unclosed: j >= lines.length });
    }
    i = j; // skip the body of any fenced block (mermaid or not)
  }
  return blocks;
}

// What the command prints for `files` (stdout and stderr lines) and its exit code.
async function validate(files) {
  const out = [];
  const err = [];
  let failed = false;
  let usageError = false;
  for (const file of files) {
    let blocks;
    try {
      blocks = mermaidBlocks(readFileSync(file, 'utf8'));
    } catch (e) {
      err.push(`error ${file}: ${e.message}`);
      usageError = true;
      continue;
    }
    if (blocks.length === 0) {
      err.push(`error ${file}: no \`\`\`mermaid blocks found`);
      usageError = true;
      continue;
    }
    for (const [idx, block] of blocks.entries()) {
      const id = `${file}#${idx + 1}`;
      try {
        if (block.unclosed) throw new Error('unterminated ``` fence');
        // parse() throws on invalid syntax (suppressErrors defaults to false).
        const { diagramType } = await mermaid.parse(block.text);
        out.push(`ok ${id} ${diagramType}`);
      } catch (e) {
        failed = true;
        // Mermaid messages span several lines (caret diagram); keep one line
        // per block so callers can grep the output.
        const msg = String(e?.message ?? e).trim().split(/\r?\n/).join(' | ');
        out.push(`FAIL ${id} ${block.line}: ${msg}`);
      }
    }
  }
  if (files.length === 0) {
    err.push('usage: node test/mermaid/validate.mjs FILE.md [FILE2.md ...]');
    usageError = true;
  }
  return { code: usageError ? 2 : failed ? 1 : 0, out, err };
}

const lines = (list) => list.map((line) => `${line}\n`).join('');

if (process.argv[2] === '--serve') {
  const { createInterface } = await import('node:readline');
  for await (const request of createInterface({ input: process.stdin })) {
    const { code, out, err } = await validate(JSON.parse(request));
    process.stdout.write(`${JSON.stringify({ code, stdout: lines(out), stderr: lines(err) })}\n`);
  }
} else {
  const { code, out, err } = await validate(process.argv.slice(2));
  process.stdout.write(lines(out));
  process.stderr.write(lines(err));
  process.exitCode = code;
}

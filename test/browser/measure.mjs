#!/usr/bin/env node
// Load HTML pages in the system Chromium at given window sizes and print, as JSON, what a reader meets:
// the font size every visible chart label is drawn at, labels clipped by their chart or overlapping each other,
// each table's overflow and whether a cue under it says so, and how far down the first chart ends.
//
// usage: node test/browser/measure.mjs CHROMIUM
// One browser measures every page (a launch is ~2 s of CPU): each stdin line is a JSON [PAGE.html, WIDTH, HEIGHT],
// each answer one stdout line, the measurements or {"error": message}.
// Puppeteer comes with mermaid-cli (npm ci); it drives the given browser and downloads nothing. The page runs no
// script of its own (its CSP forbids them): the measuring runs in Puppeteer's isolated world.
import puppeteer from 'puppeteer';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

// What a reader meets on `page` at width x height CSS px, in a fresh tab of `browser`.
async function measure(browser, page, width, height) {
  const tab = await browser.newPage();
  try {
    await tab.setViewport({ width: Number(width), height: Number(height), deviceScaleFactor: 1 });
    await tab.goto(pathToFileURL(page).href, { waitUntil: 'load' });
    // A page of Mermaid blocks (the Markdown's charts, drawn by mermaid.js) is measured once they are drawn.
    await tab.waitForFunction(() => !document.querySelector('pre.mermaid:not([data-processed])'), { timeout: 60000 });
    return await tab.evaluate(() => {
      const shown = (el) => el.getClientRects().length > 0;
      const box = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
      const overlap = (a, b) => Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]))
                              * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
      const charts = [...document.querySelectorAll('svg.chart, pre.mermaid svg')].filter(shown).map((svg) => {
        const frame = box(svg);
        const texts = [...svg.querySelectorAll('text')].filter((t) => t.textContent.trim());
        // drawn size = the label's font size in SVG units times the SVG's scale (rotation included)
        const sizes = texts.map((t) => {
          const m = t.getScreenCTM();
          return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
        });
        const boxes = texts.map(box);
        let overlaps = 0;
        for (let i = 0; i < boxes.length; i++)
          for (let j = i + 1; j < boxes.length; j++) if (overlap(boxes[i], boxes[j]) > 1) overlaps++;
        const clipped = boxes.filter((b) => b[0] < frame[0] - 0.5 || b[1] < frame[1] - 0.5
                                            || b[2] > frame[2] + 0.5 || b[3] > frame[3] + 0.5).length;
        return { title: svg.getAttribute('aria-label') ?? texts.find((t) => t.closest('.chart-title'))?.textContent, layout: svg.getAttribute('class'), labels: texts.length,
                 smallest: Math.min(...sizes), largest: Math.max(...sizes), clipped, overlaps,
                 top: frame[1] + window.scrollY, bottom: frame[3] + window.scrollY };
      });
      const tables = [...document.querySelectorAll('.scroll')].map((wrap) => {
        const cue = wrap.nextElementSibling?.classList.contains('cue') && shown(wrap.nextElementSibling)
          ? wrap.nextElementSibling : null;
        return { columns: wrap.querySelectorAll('thead th').length, scrollWidth: wrap.scrollWidth,
                 clientWidth: wrap.clientWidth, cue: cue && cue.textContent,
                 cueFont: cue && parseFloat(getComputedStyle(cue).fontSize) };
      });
      return { width: window.innerWidth, pageWidth: document.documentElement.scrollWidth, charts, tables };
    });
  } finally {
    await tab.close();
  }
}

const browserPath = process.argv[2];
if (!browserPath) {
  console.error('usage: node test/browser/measure.mjs CHROMIUM  (stdin: one JSON [PAGE.html, WIDTH, HEIGHT] a line)');
  process.exit(2);
}
const browser = await puppeteer.launch({
  executablePath: browserPath, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
try {
  for await (const request of createInterface({ input: process.stdin })) {
    let answer;
    try {
      answer = await measure(browser, ...JSON.parse(request));
    } catch (err) {
      answer = { error: String(err?.stack ?? err) };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
} finally {
  await browser.close();
}

// mermaid-cli's puppeteer must not download a browser of its own (only package registries are
// reachable here): the screenshots use the system Chromium (apt-get install chromium).
module.exports = { skipDownload: true };

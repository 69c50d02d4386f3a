"""Reports from plain results: formatting, charts, the Markdown/HTML dossier, docs and screenshots."""

/**
 * The Curvature panel's HTML document. Pure: the extension host calls it with the webview's CSP source,
 * a fresh nonce and the resource URIs, and the tests read what it returns.
 *
 * Security: a strict Content-Security-Policy (nothing by default; scripts only with the nonce; styles,
 * images and fonts only from the extension's own files); no inline script, style or event handler. The
 * page is a static skeleton that main.ts fills in with DOM calls.
 *
 * Custom elements (@vscode-elements/elements) load as a module script, which runs after webview.js: the
 * skeleton's elements upgrade when it arrives, and until then (or if it never does) their light-DOM
 * content and panel.css's `:not(:defined)` rules keep every control usable.
 */

export interface PanelHtmlOptions {
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  elementsUri: string;
}

/** For a double-quoted attribute value (single quotes, as in the CSP's 'none', stay as they are). */
function attr(s: string): string {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

/**
 * The policy itself; `source` is the webview's `cspSource` (e.g. "https://*.vscode-cdn.net"), kept to
 * source expressions: a ";" or "," in it could not start a directive of its own.
 */
export function contentSecurityPolicy(source: string, nonce: string): string {
  const src = String(source)
    .replace(/[;,"\u0000-\u001f]/g, '')
    .trim();
  const n = String(nonce).replace(/[^A-Za-z0-9+/=_-]/g, '');
  return [
    "default-src 'none'",
    `img-src ${src} data:`,
    `style-src ${src}`,
    `script-src 'nonce-${n}'`,
    `font-src ${src}`,
  ].join('; ');
}

export function panelHtml(opts: PanelHtmlOptions): string {
  const csp = contentSecurityPolicy(opts.cspSource, opts.nonce);
  const nonce = attr(opts.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(opts.styleUri)}">
<title>Curvature</title>
</head>
<body>
<header id="header">
  <div class="title-row">
    <h1 id="title">Curvature Lens</h1>
    <div class="actions">
      <label class="estimator-label" for="estimator">Estimator</label>
      <vscode-single-select id="estimator" title="How the diagonal and trace are estimated; changing it runs the inspection again">
        <vscode-option value="xdiag">XDiag + XTrace</vscode-option>
        <vscode-option value="hutchinson">Hutchinson</vscode-option>
        <vscode-option value="exact">Exact (small models)</vscode-option>
      </vscode-single-select>
      <vscode-button id="export" secondary disabled title="Write a Markdown report with images beside the model">Export report</vscode-button>
    </div>
  </div>
  <div id="status" class="status" role="status" aria-live="polite" data-status="idle">
    <span id="status-text" class="status-text">Waiting for the extension…</span>
    <vscode-progress-bar id="progress" class="progress" hidden><progress class="progress-fallback" max="1"></progress></vscode-progress-bar>
    <vscode-button id="cancel" secondary hidden title="Stop this inspection">Cancel</vscode-button>
  </div>
  <div id="banner" class="banner" role="note" hidden></div>
  <div id="stale" class="stale" role="alert" hidden>
    <span class="stale-text">The model or data changed after this result was computed: the numbers below may be out of date.</span>
    <vscode-button id="rerun" title="Inspect again with the current files">Re-run</vscode-button>
  </div>
</header>
<main id="main">
  <section id="error" class="error" role="alert" hidden>
    <h2 id="error-kind" class="error-kind">Error</h2>
    <pre id="error-message" class="error-message"></pre>
  </section>
  <section id="placeholder" class="placeholder" hidden>
    <p id="placeholder-text" class="placeholder-text"></p>
    <ol id="phases" class="phases"></ol>
  </section>
  <section id="overview" class="card summary-card" hidden>
    <h2>Summary</h2>
    <div id="summary"></div>
  </section>
  <section class="charts">
    <div id="traces-card" class="card traces-card" hidden>
      <h2>Trace by layer</h2>
      <div id="traces" class="chart-box"></div>
    </div>
    <div id="convergence-card" class="card convergence-card" hidden>
      <h2>Convergence of the trace estimate</h2>
      <div id="convergence" class="chart-box"></div>
    </div>
    <div id="density-card" class="card density-card" hidden>
      <h2>Spectral density</h2>
      <div id="density" class="chart-box"></div>
      <p id="density-note" class="chart-note"></p>
    </div>
  </section>
  <section id="checkpoints-block" class="card checkpoints-card" hidden>
    <h2>Checkpoints</h2>
    <p id="checkpoints-note" class="chart-note"></p>
    <div id="checkpoints-charts" class="checkpoint-charts"></div>
    <h3 class="checkpoint-diff-title">Change of the Hessian diagonal</h3>
    <div class="checkpoint-pick">
      <label for="checkpoint-a">from A</label>
      <select id="checkpoint-a" class="checkpoint-select"></select>
      <label for="checkpoint-b">to B</label>
      <select id="checkpoint-b" class="checkpoint-select"></select>
      <span class="chart-note">diagonal(B) − diagonal(A) per tensor</span>
    </div>
    <div id="checkpoints-diff" class="checkpoint-diff tensors"></div>
  </section>
  <section id="layers-block" class="layers-block" hidden>
    <div class="layers-head">
      <h2>Layers</h2>
      <div id="scale" class="scale" role="group" aria-label="Heatmap colour scale">
        <span class="scale-label">Heatmap scale</span>
        <vscode-radio-group id="scale-group">
          <vscode-radio id="scale-linear" name="scale" value="linear" checked>linear</vscode-radio>
          <vscode-radio id="scale-symlog" name="scale" value="symlog">symlog</vscode-radio>
        </vscode-radio-group>
      </div>
    </div>
    <div id="layers" class="layers"></div>
  </section>
</main>
<div id="tooltip" class="tooltip" role="tooltip" hidden></div>
<script nonce="${nonce}" src="${attr(opts.scriptUri)}"></script>
<script type="module" nonce="${nonce}" src="${attr(opts.elementsUri)}"></script>
</body>
</html>
`;
}

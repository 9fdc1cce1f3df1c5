import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium, type Page } from 'playwright-core';
import { createServer, type PluginOption, type ViteDevServer } from 'vite';

/** Debian's chromium; the flags give WebGPU on SwiftShader without a GPU (see ../shared/ENVIRONMENT.md). */
export const CHROMIUM = process.env.TASKMOE_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

/** A Vite dev server on a free localhost port plus headless Chromium: navigator.gpu needs a secure context. */
export class BrowserHarness {
  server!: ViteDevServer;
  browser!: Browser;
  baseUrl = '';
  readonly consoleLines: string[] = [];

  /** Starts the server (with extra Vite `plugins`, e.g. a request counter) and the browser. */
  async start(plugins: PluginOption[] = []): Promise<void> {
    this.server = await createServer({
      configFile: 'vite.config.ts',
      plugins,
      server: { port: 0, host: '127.0.0.1' },
      logLevel: 'error',
    });
    await this.server.listen();
    const addr = this.server.httpServer?.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${addr.port}`;
    this.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  }

  async open(path: string): Promise<Page> {
    const page = await this.browser.newPage();
    page.on('console', (m) => this.consoleLines.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => this.consoleLines.push(`[pageerror] ${e.message}`));
    await page.goto(`${this.baseUrl}${path}`);
    return page;
  }

  /** Saves a screenshot under test-results/ (kept as a CI artifact). */
  async screenshot(page: Page, name: string): Promise<string> {
    mkdirSync('test-results', { recursive: true });
    const file = `test-results/${name}.png`;
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }

  async stop(): Promise<void> {
    await this.browser?.close();
    await this.server?.close();
  }
}

// Every error class of src/errors.ts through a real Worker in headless Chromium: the worker flattens each sample as
// the worker host does (toWire), structured clone carries it, the page rebuilds it as the worker proxy does
// (fromWire). Each must arrive as an instance of its own class with the same name, code, message and fields.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as errors from '../../src/errors';
import { ERROR_CLASSES } from '../../src/errors';
import { BrowserHarness } from './chromium';
import type { RoundTrip } from './errors-page';

describe('errors across a worker in real headless Chromium', () => {
  const h = new BrowserHarness();
  let results: RoundTrip[] = [];

  beforeAll(async () => {
    await h.start();
    const page = await h.open('/test/browser/errors.html');
    await page.waitForFunction(() => window.__errors !== undefined, undefined, { timeout: 60_000 });
    results = (await page.evaluate(() => window.__errors)) as RoundTrip[];
  }, 120_000);
  afterAll(async () => {
    await h.stop();
  });

  it('covers every exported error class', () => {
    const exported = Object.entries(errors).filter(([, v]) => typeof v === 'function' && v.prototype instanceof Error);
    expect(exported.map(([k]) => k).sort()).toEqual(Object.keys(ERROR_CLASSES).sort());
    expect(results.map((r) => r.kind).sort()).toEqual(Object.keys(ERROR_CLASSES).sort());
  });

  it.each(Object.keys(ERROR_CLASSES))('%s keeps its class, code, message and fields', (kind) => {
    const r = results.find((x) => x.kind === kind) as RoundTrip;
    expect(r.sameClass, `${kind} arrived as another class (${r.name})`).toBe(true);
    expect(r.name).toBe(r.expectedName);
    expect(typeof r.code).toBe('string');
    expect(r.code).toBe(r.expectedCode);
    expect(r.message).toBe(r.expectedMessage);
    expect(r.fields).toBe(r.expectedFields);
  });
});

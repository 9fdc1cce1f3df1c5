// The worker of errors.browser.test.ts: posts every sample error as the worker host does (toWire).
import { toWire } from '../../src/engine/wire-errors';
import { ERROR_SAMPLES } from './error-samples';

for (const [kind, make] of Object.entries(ERROR_SAMPLES)) postMessage({ kind, wire: toWire(make()) });
postMessage({ done: true });

// Entry of the demo page (index.html): the translation demo on the public taskmoe API. The engine runs in a Web
// Worker (the page constructs it, as the API asks) so that the page stays responsive; `?worker=0` runs it in-thread.
import { type CreateTranslatorOptions, createTranslator } from '../index';
import { Demo } from './demo';

const inWorker = new URLSearchParams(location.search).get('worker') !== '0' && typeof Worker !== 'undefined';
let worker: Worker | null = null;

async function create(opts: CreateTranslatorOptions) {
  // The previous translator is disposed by the page before it asks for the next one.
  worker?.terminate();
  worker = null;
  if (!inWorker) return createTranslator(opts);
  worker = new Worker(new URL('../engine/worker.ts', import.meta.url), { type: 'module', name: 'taskmoe' });
  return createTranslator({ ...opts, worker });
}

void new Demo(create, inWorker ? 'engine in a Web Worker' : 'engine on the page thread').start();

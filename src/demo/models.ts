// The list of models the demo offers: models.json, written by scripts/prepare-demo-models.ts (`npm run demo` runs it).

/** One model of the list. */
export interface DemoModel {
  id: string;
  label: string;
  /** Absolute URL of the model's manifest.json. */
  manifest: string;
  /** Encoder / decoder routing, e.g. "token / task". */
  routing: string;
  /** A tiny near-random test model: its translations are junk, its shapes and routing are real. */
  tiny: boolean;
  /** Split into a trunk and one shard per language (else every language needs the whole model). */
  extracted: boolean;
  /** Training state worth telling (an early checkpoint). */
  note?: string;
}

/** Where the list is: `?models=<url>` (the browser test serves its own), else /models/models.json. */
export function modelListUrl(): string {
  const q = new URLSearchParams(location.search).get('models');
  return new URL(q ?? '/models/models.json', location.href).toString();
}

/** Reads the list; manifest paths in it are relative to the list's URL. */
export async function readModelList(url: string): Promise<DemoModel[]> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (cause) {
    throw new Error(`Cannot read the model list ${url}: ${(cause as Error).message}.`);
  }
  if (!res.ok) {
    throw new Error(
      `No model list at ${url} (HTTP ${res.status}). Start the demo with \`npm run demo\`, which prepares the models (or run \`npm run prepare:demo-models\`).`,
    );
  }
  const json = (await res.json()) as { models?: Array<Omit<DemoModel, 'manifest'> & { manifest: string }> };
  const models = json.models ?? [];
  if (models.length === 0) throw new Error(`The model list ${url} names no model.`);
  return models.map((m) => ({ ...m, manifest: new URL(m.manifest, url).toString() }));
}

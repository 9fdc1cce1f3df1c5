// Output paths of extract, eval and export-onnx, checked before any work starts: never one of the command's inputs,
// never a file where a folder is wanted or the other way round.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { UsageError } from './args';

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

function inside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/**
 * Checks `--out <dir>` of `command`: not an existing file, not the model folder `model` nor a folder holding it, nor
 * inside it (files written there would replace the model's own). Throws {@link UsageError}.
 */
export function checkOutputFolder(command: string, out: string, model: string): void {
  const o = real(out);
  const m = real(model);
  if (existsSync(o) && !statSync(o).isDirectory()) {
    throw new UsageError(`--out "${out}" is a file; ${command} writes a folder there. Pass a new or empty folder.`);
  }
  if (inside(o, m) || inside(m, o)) {
    throw new UsageError(
      `--out "${out}" is or contains or lies inside the model folder "${model}"; ${command} would overwrite the model it reads. Pass another folder.`,
    );
  }
}

/**
 * Checks `--out <file>` of `command`: not a folder, its folder exists, and not one of `inputs` (source, reference,
 * model files). Throws {@link UsageError}.
 */
export function checkOutputFile(command: string, out: string, inputs: readonly string[]): void {
  const o = real(out);
  if (existsSync(o) && statSync(o).isDirectory()) {
    throw new UsageError(`--out "${out}" is a folder; ${command} writes a file there. Pass a file name.`);
  }
  if (!existsSync(dirname(o)) || !statSync(dirname(o)).isDirectory()) {
    throw new UsageError(`--out "${out}": the folder "${dirname(out)}" does not exist.`);
  }
  for (const i of inputs) {
    if (inside(o, real(i))) {
      throw new UsageError(`--out "${out}" is ${command}'s input "${i}"; writing it would destroy the input.`);
    }
  }
}

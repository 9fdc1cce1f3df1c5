// Optional packages (webgpu for Node, onnxruntime-web for the WASM backend) are imported only when used; when one is
// not installed, the user gets one line naming it instead of a module-resolution stack trace.

import { DependencyMissingError } from '../errors';

/**
 * True when `e` says that package `name` itself could not be found (Node, or a browser resolving a bare specifier);
 * not when a module inside an installed `name` is missing.
 */
function isNotFound(e: unknown, name: string): boolean {
  const message = String((e as { message?: string } | null)?.message ?? '');
  const quoted = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `Cannot find (package|module) ['"]${quoted}['"/]|Failed to resolve module specifier ['"]${quoted}['"/]`,
  ).test(message);
}

/**
 * Runs `load` (a dynamic import of the package written out literally, so bundlers still see it); rethrows "not
 * installed" as {@link DependencyMissingError} naming `name` and the `feature` that needs it, any other failure as is.
 */
export async function importOptional<T>(name: string, feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (isNotFound(e, name)) throw new DependencyMissingError(name, feature, { cause: e });
    throw e;
  }
}

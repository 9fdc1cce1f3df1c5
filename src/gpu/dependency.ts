// Optional packages (webgpu for Node, onnxruntime-web for the WASM backend) are imported only when used; when one is
// not installed, the user gets one line naming it instead of a module-resolution stack trace.
import { TaskmoeError } from './errors';

/** An optional package that a chosen feature needs is not installed. */
export class DependencyMissingError extends TaskmoeError {
  /** The npm package to install. */
  readonly packageName: string;
  constructor(packageName: string, feature: string, options?: { cause?: unknown }) {
    super(
      'dependency-missing',
      `${feature} needs the npm package "${packageName}": npm install ${packageName}`,
      options,
    );
    this.packageName = packageName;
  }
}

/** True when `e` says that module `name` could not be found (Node, or a browser resolving a bare specifier). */
function isNotFound(e: unknown, name: string): boolean {
  const err = e as { code?: string; message?: string } | null;
  const message = String(err?.message ?? '');
  if (!message.includes(name)) return false;
  return (
    err?.code === 'ERR_MODULE_NOT_FOUND' ||
    err?.code === 'MODULE_NOT_FOUND' ||
    /Cannot find (package|module)|Failed to resolve module specifier|Failed to fetch dynamically imported module/i.test(
      message,
    )
  );
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

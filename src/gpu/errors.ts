/**
 * Typed errors of the GPU layer. Every error says what went wrong and what to do about it.
 */

/** Base class of every taskmoe error; `code` is stable and machine-readable. */
export class TaskmoeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** No WebGPU implementation, or no adapter could be obtained. */
export class WebGPUUnavailableError extends TaskmoeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('webgpu-unavailable', message, options);
  }
}

/** A feature the caller required is not offered by the adapter. */
export class FeatureMissingError extends TaskmoeError {
  readonly feature: string;
  constructor(feature: string) {
    super(
      'feature-missing',
      `The WebGPU adapter does not offer the feature "${feature}". Use a variant that does not need it (taskmoe selects one automatically unless the feature is required explicitly).`,
    );
    this.feature = feature;
  }
}

/** The device was lost (driver reset, destroy, out of memory). Create a new context. */
export class DeviceLostError extends TaskmoeError {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super('device-lost', `The WebGPU device was lost (${reason}): ${message}. Create a new GPU context.`);
    this.reason = reason;
  }
}

/**
 * A size goes past a stated limit: a device limit (tensor, dispatch), or one of taskmoe's own (characters per text,
 * texts per call, bytes per download, config values); checked before the work starts. `message` replaces the
 * default text, which speaks of a device limit.
 */
export class LimitExceededError extends TaskmoeError {
  readonly limit: string;
  readonly requested: number;
  readonly allowed: number;
  constructor(limit: string, requested: number, allowed: number, what: string, options?: { message?: string }) {
    super(
      'limit-exceeded',
      options?.message ??
        `${what} needs ${limit} = ${requested}, but the device allows ${allowed}. Split the work into smaller pieces or use a device with larger limits.`,
    );
    this.limit = limit;
    this.requested = requested;
    this.allowed = allowed;
  }
}

/** Bad input to a kernel wrapper: wrong shapes, dtypes or parameters. Thrown before anything is dispatched. */
export class KernelInputError extends TaskmoeError {
  readonly kernel: string;
  constructor(kernel: string, message: string) {
    super('kernel-input', `${kernel}: ${message}`);
    this.kernel = kernel;
  }
}

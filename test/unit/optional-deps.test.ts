// Optional packages: a missing one is named in one line (DependencyMissingError), other failures pass through, and
// onnxruntime-web gets the WASM options the user passed.
import { describe, expect, it } from 'vitest';
import { loadOnnxRuntime } from '../../src/engine/onnxruntime';
import { DependencyMissingError, TaskmoeError } from '../../src/errors';
import { importOptional } from '../../src/gpu/dependency';

describe('importOptional', () => {
  it('names the package and the feature when it is not installed', async () => {
    const name = 'taskmoe-no-such-package';
    const err = await importOptional(name, 'The test feature', () => import(/* @vite-ignore */ name)).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DependencyMissingError);
    expect(err).toBeInstanceOf(TaskmoeError);
    expect((err as DependencyMissingError).packageName).toBe(name);
    expect((err as Error).message).toBe(`The test feature needs the npm package "${name}": npm install ${name}`);
    expect((err as Error).message.split('\n')).toHaveLength(1);
  });

  it('passes other failures through, including a missing module inside an installed package', async () => {
    const boom = new Error('init failed');
    await expect(importOptional('webgpu', 'x', () => Promise.reject(boom))).rejects.toBe(boom);
    // A module missing inside an installed package is a broken install, not a missing package.
    const inner = Object.assign(new Error("Cannot find module '/x/node_modules/webgpu/dist/dawn.node'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    await expect(importOptional('webgpu', 'x', () => Promise.reject(inner))).rejects.toBe(inner);
    const browser = new TypeError('Failed to resolve module specifier "onnxruntime-web". Relative references must...');
    await expect(importOptional('onnxruntime-web', 'x', () => Promise.reject(browser))).rejects.toBeInstanceOf(
      DependencyMissingError,
    );
  });

  it('returns the module when it is installed', async () => {
    const comlink = await importOptional('comlink', 'x', () => import('comlink'));
    expect(typeof comlink.wrap).toBe('function');
  });
});

describe('loadOnnxRuntime', () => {
  it('applies wasmPaths and numThreads to onnxruntime-web', async () => {
    const ort = await loadOnnxRuntime({ wasmPaths: '/vendor/ort/', numThreads: 1 });
    expect(ort.env.wasm.wasmPaths).toBe('/vendor/ort/');
    expect(ort.env.wasm.numThreads).toBe(1);
    const paths = { wasm: '/cdn/ort-wasm-simd-threaded.wasm' };
    expect((await loadOnnxRuntime({ wasmPaths: paths })).env.wasm.wasmPaths).toEqual(paths);
  });
});

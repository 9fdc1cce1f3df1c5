export {
  DeviceLostError,
  FeatureMissingError,
  KernelInputError,
  LimitExceededError,
  TaskmoeError,
  WebGPUUnavailableError,
} from '../errors';
export { BufferPool, type PoolStats, sizeClass } from './buffer-pool';
export {
  type AdapterDescription,
  adapterName,
  createGpuContext,
  GpuContext,
  type GpuContextOptions,
  type KernelProfile,
  OPTIONAL_FEATURES,
  type OptionalFeature,
} from './device';
export { type KernelSource, PipelineCache, pipelineKey } from './pipeline-cache';
export { type ProfileRow, Profiler } from './profiler';
export { type Grid, Recorder } from './recorder';
export { byteSizeOf, type DType, f16BitsToF32, f32ToF16Bits, numel, packF16, Tensor, unpackF16 } from './tensor';
export {
  flagConstants,
  type ParamField,
  ParamsSchema,
  paramsSchema,
  type ScalarType,
  UniformBuilder,
} from './uniforms';

// The worker entry (`taskmoe/worker`): the application constructs the Worker from this module and passes it to
// createTranslator({ worker }).
/// <reference types="@webgpu/types" preserve="true" />
import { exposeTranslatorHost } from './worker-host';

exposeTranslatorHost();

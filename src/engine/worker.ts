// The worker entry (`taskmoe/worker`): the application constructs the Worker from this module and passes it to
// createTranslator({ worker }).
import { exposeTranslatorHost } from './worker-host';

exposeTranslatorHost();
